import { listRunIds, resolveRunRef } from '../executor/run-dir.js';
import { readRun, type RecordedRun } from '../executor/run-history.js';
import { fail, ok, type Result } from '../common/result.js';

/**
 * The runs named on a command line, in the order given: each ref is a run id, a unique prefix or
 * suffix of one, or `latest`; `pipelines` adds every run of each named pipeline, oldest first.
 * A run named twice is listed once.
 */
export async function resolveRuns(runsDir: string, refs: readonly string[], pipelines: readonly string[] = []): Promise<Result<RecordedRun[], string>> {
  const ids: string[] = [];
  const all = await listRunIds(runsDir);
  for (const ref of refs) {
    const id = await resolveRunRef(runsDir, ref);
    if (!id) {
      const matches = all.filter((r) => r.startsWith(ref) || r.endsWith(ref));
      return fail(
        matches.length > 1
          ? `run "${ref}" is ambiguous: it matches ${matches.length} runs (${matches.slice(0, 3).join(', ')}${matches.length > 3 ? ', ...' : ''}); give more of the id`
          : `no run "${ref}" in ${runsDir}; give a run id (or a unique part of one) from "bdlab runs", or "latest"`,
      );
    }
    if (!ids.includes(id)) ids.push(id);
  }
  for (const name of pipelines) {
    const runs = await Promise.all(all.map((id) => readRun(runsDir, id)));
    const ofPipeline = runs.filter((r) => (r.plan?.name ?? r.manifest?.pipeline.name) === name).map((r) => r.id);
    if (ofPipeline.length === 0) {
      const known = [...new Set(runs.map((r) => r.plan?.name ?? r.manifest?.pipeline.name).filter((n): n is string => n !== undefined))].sort();
      return fail(`--pipeline ${name}: no run of a pipeline named "${name}" in ${runsDir}; ${known.length > 0 ? `pipelines with runs: ${known.join(', ')}` : 'there are no runs yet'}`);
    }
    for (const id of ofPipeline) if (!ids.includes(id)) ids.push(id);
  }
  return ok(await Promise.all(ids.map((id) => readRun(runsDir, id))));
}
