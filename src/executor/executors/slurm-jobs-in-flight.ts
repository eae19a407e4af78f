import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { jobFilesOf, type JobRecord } from '../job-protocol.js';
import { readJsonFile } from '../json-file.js';
import { SlurmCommands } from './slurm-commands.js';
import { meaningOf } from './slurm-states.js';

/** A Slurm job recorded in a scratch directory that may still write into its pending directory. */
export interface JobInFlight {
  /** The cache key whose scratch directory holds the record. */
  key: string;
  record: JobRecord;
  /** `Slurm job 42 (RUNNING)`, or why Slurm's word is missing. */
  describe: string;
}

/**
 * The jobs recorded under `<scratchRoot>/<key>/slurm/job.json` that are still queued or running:
 * their head may have been killed (kill -9 leaves jobs running), so nothing marks their pending
 * directory as in use except the record. One squeue call covers every record and its answer is
 * read with the executor's own state table; when squeue can't be asked, a job that left no result
 * file yet counts as in flight, since deleting what it writes can't be undone.
 */
export async function slurmJobsInFlight(scratchRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<JobInFlight[]> {
  const recorded: { key: string; record: JobRecord; resultFile: string }[] = [];
  for (const key of await readdir(scratchRoot).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(key)) continue;
    const files = jobFilesOf(join(scratchRoot, key));
    const record = await readJsonFile<JobRecord>(files.record);
    if (record?.jobId && record.pending?.dir) recorded.push({ key, record, resultFile: files.result });
  }
  if (recorded.length === 0) return [];
  let entries;
  try {
    entries = await new SlurmCommands(env).squeue([...new Set(recorded.map((r) => r.record.jobId))]);
  } catch (err) {
    const why = (err as Error).message;
    const unanswered: JobInFlight[] = [];
    for (const { key, record, resultFile } of recorded) {
      if (await stat(resultFile).then(() => false, () => true)) {
        unanswered.push({ key, record, describe: `Slurm job ${record.jobId} (no result yet; Slurm could not be asked: ${why})` });
      }
    }
    return unanswered;
  }
  return recorded.flatMap(({ key, record }) => {
    const entry = entries.get(record.jobId);
    // After a cluster reset job ids start over: a job with our id but another name isn't ours.
    if (!entry || (entry.name !== undefined && entry.name !== record.jobName)) return [];
    const meaning = meaningOf(entry.state);
    return meaning.phase === 'ended' ? [] : [{ key, record, describe: `Slurm job ${record.jobId} (${meaning.state})` }];
  });
}
