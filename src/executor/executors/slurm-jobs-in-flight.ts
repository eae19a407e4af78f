import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ChildStartMessage } from '../../common/stage-protocol.js';
import { jobFilesOf, jobNameOf, type JobRecord, type JobResult } from '../job-protocol.js';
import { readJsonFile } from '../json-file.js';
import { SlurmCommands, type QueueEntry } from './slurm-commands.js';
import { meaningOf } from './slurm-states.js';

/** A Slurm job whose pending directory must stay. */
export interface JobInFlight {
  /** The cache key whose scratch directory holds the job's files. */
  key: string;
  /** The pending directory the job writes into. */
  pendingDir: string;
  /** Why it stays: `Slurm job 42 (RUNNING) still writes into it (submitted by pid 7 on node1)`. */
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
  const unrecorded: { key: string; start: ChildStartMessage }[] = [];
  for (const key of await readdir(scratchRoot).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}$/.test(key)) continue;
    const files = jobFilesOf(join(scratchRoot, key));
    const record = await readJsonFile<JobRecord>(files.record);
    if (record?.jobId && record.pending?.dir) {
      recorded.push({ key, record, result: await readJsonFile<JobResult>(files.result) });
      continue;
    }
    // A head killed between sbatch and writing job.json: the job, once started, wrote start.json (with
    // its instance and outputs directory), and is known to Slurm by its name, as SlurmExecutor adopts it.
    const start = await readJsonFile<ChildStartMessage>(files.start);
    if (start?.id && start.outDir && !(await readJsonFile<JobResult>(files.result)) && (await isDirectory(dirname(start.outDir)))) unrecorded.push({ key, start });
  }
  return [...(await recordedJobs(recorded, env)), ...(await unrecordedJobs(unrecorded, env))];
}

const isDirectory = (path: string): Promise<boolean> => stat(path).then((s) => s.isDirectory(), () => false);

/** Jobs named by a job.json: one squeue call for all of them. */
async function recordedJobs(recorded: { key: string; record: JobRecord; result: JobResult | undefined }[], env: NodeJS.ProcessEnv): Promise<JobInFlight[]> {
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
    const keep = (why: string): JobInFlight[] => [{ key, pendingDir: record.pending.dir, describe: `${why} (submitted by pid ${record.head.pid} on ${record.head.host})` }];
    if (!entries) {
      if (result?.type === 'done') return keep(`${job} finished with a result that a rerun adopts`);
      return result ? [] : keep(`${job} (no result yet; Slurm could not be asked: ${unanswered}) may still write into it`);
    }
    const found = entries.get(record.jobId);
    // After a cluster reset job ids start over: a job with our id but another name isn't ours.
    const entry = found && (found.name === undefined || found.name === record.jobName) ? found : undefined;
    const meaning = entry ? meaningOf(entry.state) : undefined;
    if (meaning && meaning.phase !== 'ended') return keep(`${job} (${meaning.state}) still writes into it`);
    if (result?.type === 'done' && meaning?.ending !== 'failed') return keep(`${job} finished with a result that a rerun adopts`);
    return [];
  });
}

/**
 * Jobs whose head died before recording them, found by name (one squeue call each; only started
 * jobs whose pending directory is still there and that wrote no result count). Without Slurm's
 * answer such a job may still be writing, so its directory stays.
 */
async function unrecordedJobs(unrecorded: { key: string; start: ChildStartMessage }[], env: NodeJS.ProcessEnv): Promise<JobInFlight[]> {
  const commands = new SlurmCommands(env);
  const found: JobInFlight[] = [];
  for (const { key, start } of unrecorded) {
    const name = jobNameOf({ cacheKey: key, id: start.id });
    let why: string | undefined;
    try {
      const live = (await commands.squeueByName(name)).find((e) => meaningOf(e.state).phase !== 'ended');
      if (live) why = `Slurm job ${live.jobId} (${meaningOf(live.state).state}) still writes into it`;
    } catch (err) {
      why = `Slurm job ${name} (no result yet; Slurm could not be asked: ${(err as Error).message}) may still write into it`;
    }
    if (why) found.push({ key, pendingDir: dirname(start.outDir), describe: `${why} (submitted by a run that was killed while submitting it)` });
  }
  return found;
}
