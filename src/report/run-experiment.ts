import { join, relative } from 'node:path';
import type { JsonObject } from '../common/json.js';
import type { CacheEntryMeta } from '../executor/cache.js';
import { ENTRY_FILE } from '../executor/cache.js';
import { readJsonFile } from '../executor/json-file.js';
import type { RecordedRun } from '../executor/run-history.js';
import { PIPELINE_COPY, stageDirOf } from '../executor/run-dir.js';
import type { Experiment, ExperimentInstance } from './experiment.js';

/**
 * A recorded run as an Experiment: instances and keys from its plan.json, statuses from its
 * manifest, metrics from `stages/<instance>/metrics.json` (or, where that copy is missing, from
 * the cache entry the run used). Returns an explanation when the run has no plan.json (killed
 * before planning finished, or not a bdlab run directory).
 */
export async function experimentOfRun(run: RecordedRun, workspaceRoot: string, cwd: string = workspaceRoot): Promise<Experiment | string> {
  if (!run.plan) return `run ${run.id} has no readable plan.json (it was stopped before it started, or the file was removed)`;
  const manifest = run.manifest;
  const status = new Map<string, string>();
  const metrics = new Map<string, JsonObject>();
  const outputs = new Map<string, string>();
  const instances: ExperimentInstance[] = run.plan.instances.map((i) => {
    const record = manifest?.instances[i.id];
    return {
      id: i.id,
      stage: i.stage,
      kind: i.kind,
      matrix: i.matrix as ExperimentInstance['matrix'],
      params: i.params,
      inputs: i.inputs,
      cacheKey: i.cacheKey ?? record?.cacheKey ?? null,
    };
  });
  for (const inst of instances) {
    const record = manifest?.instances[inst.id];
    // Instances outside --only are in the plan but not in the manifest: this run did not cover them.
    status.set(inst.id, record?.status ?? 'not in run');
    const stageDir = stageDirOf(run, inst.id);
    let found = await readJsonFile<JsonObject>(join(stageDir, 'metrics.json'));
    if (!found && inst.cacheKey && manifest?.cacheDir && (record?.status === 'succeeded' || record?.status === 'cached')) {
      const meta = await readJsonFile<CacheEntryMeta>(join(manifest.cacheDir, inst.cacheKey.slice(0, 2), inst.cacheKey, ENTRY_FILE));
      found = meta?.metrics;
    }
    if (found) metrics.set(inst.id, found);
    if (record?.status === 'succeeded' || record?.status === 'cached') outputs.set(inst.id, join(stageDir, 'outputs'));
  }
  const git = manifest?.pipeline.git ?? undefined;
  const file = manifest?.pipeline.file ?? run.plan.file;
  return {
    label: run.id,
    origin: 'run',
    pipeline: run.plan.name,
    file: file.startsWith(workspaceRoot) ? relative(workspaceRoot, file) : file,
    ...(git ? { git } : {}),
    runFile: relative(cwd, join(run.dir, PIPELINE_COPY)),
    instances,
    status,
    metrics,
    outputs,
  };
}
