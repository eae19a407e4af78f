import { createHash } from 'node:crypto';
import { copyFile, cp, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { JsonObject } from '../common/json.js';
import { canonicalJson, sanitizeInstanceId } from '../pipeline/index.js';
import type { InstanceId, Plan } from '../pipeline/types.js';
import { isCode } from './fs-removal.js';
import { writeJsonAtomic } from './json-file.js';

/**
 * One `bdlab run`: `<workspace>/runs/<YYYYMMDDTHHMMSSZ>-<pipeline>-<plan hash>/` holding
 * pipeline.yaml (the file as run), plan.json, manifest.json and `stages/<instance>/`
 * {log.txt, metrics.json, outputs -> cache entry}.
 */
export interface RunDirectory {
  id: string;
  dir: string;
}

export const PLAN_FILE = 'plan.json';
export const MANIFEST_FILE = 'manifest.json';
export const PIPELINE_COPY = 'pipeline.yaml';
const LATEST = 'latest';
const LATEST_TXT = 'latest.txt';

/** What plan.json holds: the resolved plan plus each instance's cache key once known. */
export interface PlanFile {
  name: string;
  description?: string;
  file: string;
  planHash: string;
  instances: {
    id: string;
    stage: string;
    kind: string;
    matrix: JsonObject;
    params: JsonObject;
    inputs: string[];
    cacheKey: string | null;
  }[];
}

/** Short hash over what the plan would do (instances, kinds, params, edges), not over the file's text. */
export function planHash(plan: Plan): string {
  const essence = plan.instances.map((i) => ({ id: i.id, kind: i.kind, params: i.params, inputs: [...i.inputs] }));
  return createHash('sha256').update(canonicalJson(essence)).digest('hex').slice(0, 8);
}

export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `announce` hears each candidate directory before it is created (a live run registers it for gc). */
export async function createRunDirectory(runsDir: string, plan: Plan, now: Date, announce?: (dir: string) => void): Promise<RunDirectory> {
  await mkdir(runsDir, { recursive: true });
  const base = `${utcStamp(now)}-${plan.name}-${planHash(plan)}`;
  // Two runs of one plan in the same second get -2, -3 ... rather than sharing a directory.
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`;
    const dir = join(runsDir, id);
    announce?.(dir);
    try {
      await mkdir(dir);
    } catch (err) {
      if (isCode(err, 'EEXIST')) continue;
      throw err;
    }
    await mkdir(join(dir, 'stages'));
    await copyFile(plan.file, join(dir, PIPELINE_COPY));
    return { id, dir };
  }
}

export function stageDirOf(run: RunDirectory, id: string): string {
  return join(run.dir, 'stages', sanitizeInstanceId(id as InstanceId));
}

export async function writePlanFile(run: RunDirectory, plan: Plan, keys: ReadonlyMap<string, string>): Promise<void> {
  const file: PlanFile = {
    name: plan.name,
    ...(plan.description !== undefined ? { description: plan.description } : {}),
    file: plan.file,
    planHash: planHash(plan),
    instances: plan.instances.map((i) => ({
      id: i.id,
      stage: i.stage,
      kind: i.kind,
      matrix: { ...i.matrix },
      params: i.params,
      inputs: [...i.inputs],
      cacheKey: keys.get(i.id) ?? null,
    })),
  };
  await writeJsonAtomic(join(run.dir, PLAN_FILE), file);
}

/** `outputs` in a stage dir points at the cache entry; copied where symlinks aren't allowed. */
export async function linkOutputs(stageDir: string, outputsDir: string): Promise<'symlink' | 'copy'> {
  const link = join(stageDir, 'outputs');
  await rm(link, { recursive: true, force: true });
  try {
    await symlink(outputsDir, link, 'dir');
    return 'symlink';
  } catch {
    await cp(outputsDir, link, { recursive: true });
    return 'copy';
  }
}

export async function writeStageMetrics(stageDir: string, metrics: JsonObject): Promise<void> {
  await writeJsonAtomic(join(stageDir, 'metrics.json'), metrics);
}

/** `runs/latest` -> newest run, replaced atomically; `runs/latest.txt` where symlinks fail. */
export async function pointLatest(runsDir: string, run: RunDirectory): Promise<void> {
  const tmp = join(runsDir, `.latest.${process.pid}`);
  try {
    await rm(tmp, { force: true });
    await symlink(run.id, tmp, 'dir');
    await rename(tmp, join(runsDir, LATEST));
  } catch {
    await rm(tmp, { force: true }).catch(() => undefined);
    await writeFile(join(runsDir, LATEST_TXT), run.id + '\n');
  }
}

/** Run ids (directory names) sorted oldest first; names start with a UTC timestamp. */
export async function listRunIds(runsDir: string): Promise<string[]> {
  const names = await readdir(runsDir).catch(() => [] as string[]);
  const ids: string[] = [];
  for (const name of names) {
    if (!/^\d{8}T\d{6}Z-/.test(name)) continue;
    const st = await lstat(join(runsDir, name)).catch(() => undefined);
    if (st?.isDirectory()) ids.push(name);
  }
  return ids.sort();
}

/** `latest`, a full run id, or a unique prefix / suffix of one. */
export async function resolveRunRef(runsDir: string, ref: string): Promise<string | undefined> {
  const ids = await listRunIds(runsDir);
  if (ref === LATEST) {
    const viaLink = await readlink(join(runsDir, LATEST)).catch(() => undefined);
    if (viaLink && ids.includes(basename(viaLink))) return basename(viaLink);
    const viaTxt = (await readFile(join(runsDir, LATEST_TXT), 'utf8').catch(() => '')).trim();
    if (viaTxt && ids.includes(viaTxt)) return viaTxt;
    return ids.at(-1);
  }
  if (ids.includes(ref)) return ref;
  const matches = ids.filter((id) => id.startsWith(ref) || id.endsWith(ref));
  return matches.length === 1 ? matches[0] : undefined;
}
