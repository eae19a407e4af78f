import { join } from 'node:path';
import { readJsonFile } from './json-file.js';
import type { Manifest } from './manifest.js';
import { listRunIds, MANIFEST_FILE, PLAN_FILE, type PlanFile } from './run-dir.js';

export interface RecordedRun {
  id: string;
  dir: string;
  /** Missing when the run was killed before writing it (or the file was removed). */
  manifest?: Manifest;
  plan?: PlanFile;
}

export async function readRun(runsDir: string, id: string): Promise<RecordedRun> {
  const dir = join(runsDir, id);
  const manifest = await readJsonFile<Manifest>(join(dir, MANIFEST_FILE));
  const plan = await readJsonFile<PlanFile>(join(dir, PLAN_FILE));
  return { id, dir, ...(manifest ? { manifest } : {}), ...(plan ? { plan } : {}) };
}

/** Oldest first. */
export async function readRuns(runsDir: string): Promise<RecordedRun[]> {
  return Promise.all((await listRunIds(runsDir)).map((id) => readRun(runsDir, id)));
}

/** Every cache key a run refers to (plan.json once finished, manifest.json while running). */
export function keysOfRun(run: RecordedRun): Set<string> {
  const keys = new Set<string>();
  for (const inst of run.plan?.instances ?? []) if (inst.cacheKey) keys.add(inst.cacheKey);
  for (const rec of Object.values(run.manifest?.instances ?? {})) if (rec.cacheKey) keys.add(rec.cacheKey);
  return keys;
}
