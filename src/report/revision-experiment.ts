import { readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { shellQuote } from './shell-quote.js';
import type { JsonObject } from '../common/json.js';
import { fail, ok, type Result } from '../common/result.js';
import { CacheStore } from '../executor/cache.js';
import { HashMemo } from '../executor/hash-memo.js';
import { planStatus } from '../executor/plan-status.js';
import { resolveSelection } from '../executor/selection.js';
import { resolveSettings } from '../executor/settings.js';
import { workspaceAt } from '../executor/workspace.js';
import { analyzePipelineText, formatDiagnostics, loadStageKinds } from '../pipeline/index.js';
import type { Experiment, ExperimentInstance } from './experiment.js';
import { readFileAtRevision } from './git-revision.js';

export interface RevisionRequest {
  /** The pipeline file (absolute). */
  file: string;
  /** A git revision, or undefined for the file as it is in the working tree. */
  revision?: string;
  workspace: string;
  cacheDir?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * A pipeline file at a git revision (or in the working tree) as an Experiment: planned like
 * `bdlab plan` does, with each instance's key computed and looked up in the cache. Instances whose
 * entry exists count as `cached` and bring the metrics recorded in the entry; the others are
 * `not run` (nothing is executed). Returns the analyzer's diagnostics when the file is invalid.
 */
export async function experimentOfRevision(req: RevisionRequest): Promise<Result<Experiment, string>> {
  let text: string;
  let git: Experiment['git'];
  const shown = relative(req.cwd, req.file) || req.file;
  let runFile = shown;
  let prepareRunFile: string | undefined;
  if (req.revision === undefined) {
    try {
      text = await readFile(req.file, 'utf8');
    } catch (err) {
      return fail(`cannot read ${req.file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (err as Error).message}`);
    }
  } else {
    const read = await readFileAtRevision(req.file, req.revision);
    if (!read.ok) return read;
    text = read.value.text;
    git = { commit: read.value.commit, dirty: false };
    const current = await readFile(req.file, 'utf8').catch(() => undefined);
    if (current !== text) {
      // Running an older version means running a copy of it: keys depend on content, not on the path.
      runFile = `${basename(req.file).replace(/\.ya?ml$/, '')}@${req.revision.replace(/[^A-Za-z0-9._~^-]+/g, '_')}.yaml`;
      prepareRunFile = `git show ${shellQuote(`${read.value.commit.slice(0, 12)}:${read.value.pathInRepo}`)} > ${shellQuote(runFile)}`;
    }
  }
  const analyzed = analyzePipelineText(req.revision === undefined ? shown : `${shown}@${req.revision}`, text);
  if (!analyzed.ok) return fail(formatDiagnostics(analyzed.error));
  const plan = analyzed.value;
  const settings = resolveSettings({
    ...(req.cacheDir !== undefined ? { cliCacheDir: req.cacheDir } : {}),
    cliDataPath: [],
    env: req.env,
    pipeline: plan.settings,
    workspaceRoot: req.workspace,
    cwd: req.cwd,
  });
  const ws = workspaceAt(req.workspace, settings.cacheDir);
  const memo = await HashMemo.load(ws.hashMemoFile);
  const cache = new CacheStore(ws.cacheDir, ws.tmpDir, memo);
  const versions = new Map([...loadStageKinds()].map(([kind, info]) => [kind, info.version]));
  const selection = resolveSelection(plan, [], []);
  if (!selection.ok) return fail(selection.error);
  const rows = new Map((await planStatus(plan, versions, cache, selection.value)).map((r) => [r.id, r]));
  const status = new Map<string, string>();
  const metrics = new Map<string, JsonObject>();
  const outputs = new Map<string, string>();
  const instances: ExperimentInstance[] = [];
  for (const inst of plan.instances) {
    const row = rows.get(inst.id);
    const key = row?.key ?? null;
    instances.push({ id: inst.id, stage: inst.stage, kind: inst.kind, matrix: inst.matrix, params: inst.params, inputs: inst.inputs, cacheKey: key });
    const cached = row?.status === 'cached' && key !== null;
    status.set(inst.id, cached ? 'cached' : 'not run');
    if (!cached) continue;
    const meta = await cache.readMeta(key);
    if (meta?.metrics) metrics.set(inst.id, meta.metrics);
    outputs.set(inst.id, join(cache.entryDir(key), 'outputs'));
  }
  return ok({
    label: req.revision ?? 'working tree',
    origin: 'revision',
    pipeline: plan.name,
    file: shown,
    ...(git ? { git } : {}),
    runFile,
    ...(prepareRunFile ? { prepareRunFile } : {}),
    instances,
    status,
    metrics,
    outputs,
  });
}
