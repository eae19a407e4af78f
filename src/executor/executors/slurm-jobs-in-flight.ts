import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { jobFilesOf, type JobRecord, type JobResult } from '../job-protocol.js';
import { readJsonFile } from '../json-file.js';
import { SlurmCommands, type QueueEntry } from './slurm-commands.js';
import { meaningOf } from './slurm-states.js';

/** A Slurm job recorded in a scratch directory whose pending directory must stay. */
export interface JobInFlight {
  /** The cache key whose scratch directory holds the record. */
  key: string;
  record: JobRecord;
  /** Why its pending directory stays: `Slurm job 42 (RUNNING) still writes into it`. */
  describe: string;
}

/**
 * The jobs recorded under `<scratchRoot>/<key>/slurm/job.json` whose pending directory is still
 * needed: their head may have been killed (kill -9 leaves jobs running), so nothing else marks it
 * as in use. Needed while the job is queued or running (one squeue call covers every record, read
 * with the executor's own state table), and after it finished with a result that a rerun adopts
 * instead of running the instance again (the same test as SlurmExecutor's adoption). When squeue
 * can't be asked, a job that left no result file yet counts as running: deleting what it writes
 * can't be undone.
 */
export async function slurmJobsInFlight(scratchRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<JobInFlight[]> {
  const recorded: { key: string; record: JobRecord; result: JobResult | undefined }[] = [];
  for (const key of await readdir(scratchRoot).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(key)) continue;
    const files = jobFilesOf(join(scratchRoot, key));
    const record = await readJsonFile<JobRecord>(files.record);
    if (record?.jobId && record.pending?.dir) recorded.push({ key, record, result: await readJsonFile<JobResult>(files.result) });
  }
  if (recorded.length === 0) return [];
  let entries: Map<string, QueueEntry> | undefined;
  let unanswered = '';
  try {
    entries = await new SlurmCommands(env).squeue([...new Set(recorded.map((r) => r.record.jobId))]);
  } catch (err) {
    unanswered = (err as Error).message;
  }
  return recorded.flatMap(({ key, record, result }) => {
    const job = `Slurm job ${record.jobId}`;
    if (!entries) {
      if (result?.type === 'done') return [{ key, record, describe: `${job} finished with a result that a rerun adopts` }];
      return result ? [] : [{ key, record, describe: `${job} (no result yet; Slurm could not be asked: ${unanswered}) may still write into it` }];
    }
    const found = entries.get(record.jobId);
    // After a cluster reset job ids start over: a job with our id but another name isn't ours.
    const entry = found && (found.name === undefined || found.name === record.jobName) ? found : undefined;
    const meaning = entry ? meaningOf(entry.state) : undefined;
    if (meaning && meaning.phase !== 'ended') return [{ key, record, describe: `${job} (${meaning.state}) still writes into it` }];
    if (result?.type === 'done' && meaning?.ending !== 'failed') return [{ key, record, describe: `${job} finished with a result that a rerun adopts` }];
    return [];
  });
}
