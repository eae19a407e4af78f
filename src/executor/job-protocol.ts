import { join } from 'node:path';
import type { StageResult } from '../common/stage-contract.js';
import type { ChildMessage } from '../common/stage-protocol.js';
import type { ContentHash } from './fingerprint.js';

/**
 * What a cluster job and the head process say to each other: files in the instance's scratch
 * directory (`<workspace>/.bdlab/scratch/<key>/slurm/`) on the shared filesystem, instead of IPC.
 * The head writes `start.json` and `job.json`; the job (src/stages/job.ts) appends `events.jsonl`,
 * writes `result.json` last (atomically), and its script writes `exit-status` after Node exits.
 * Both the head and the compute-node entry import this module.
 */
export const JOB_DIR = 'slurm';

export interface JobFiles {
  dir: string;
  /** The start message, the same one a local child gets over IPC. */
  start: string;
  /** One JSON line per progress, log or backend message, in order. */
  events: string;
  /** `JobResult`, renamed into place when the instance has finished. */
  result: string;
  /** The exit code of the instance's process, written by the job script. */
  exitStatus: string;
  stdout: string;
  stderr: string;
  /** `JobRecord`: the job id, so a rerun after a killed head adopts the job instead of resubmitting. */
  record: string;
}

export function jobFilesOf(scratchDir: string): JobFiles {
  const dir = join(scratchDir, JOB_DIR);
  return {
    dir,
    start: join(dir, 'start.json'),
    events: join(dir, 'events.jsonl'),
    result: join(dir, 'result.json'),
    exitStatus: join(dir, 'exit-status'),
    stdout: join(dir, 'stdout.txt'),
    stderr: join(dir, 'stderr.txt'),
    record: join(dir, 'job.json'),
  };
}

export type JobEvent = Extract<ChildMessage, { type: 'progress' | 'log' | 'backend' }>;

export type JobResult =
  | { type: 'done'; result: StageResult; /** Of the outputs directory as the job left it; the head compares. */ contentHash: ContentHash }
  | { type: 'error'; message: string; userFacing: boolean; stack?: string };

/** Written by the head right after sbatch answered. */
export interface JobRecord {
  jobId: string;
  /** The `--job-name`, by which the job can also be found in the queue. */
  jobName: string;
  attempt: number;
  submittedAt: string;
  head: { pid: number; host: string };
  /** The cache's pending directory the job writes its outputs into. */
  pending: { dir: string; outputsDir: string };
  /** The job script (in the submitting run's directory). */
  script: string;
}

/** Names a Slurm job in squeue listings: the stage and the start of the cache key (how a head that died before recording the job id finds it again). */
export function jobNameOf(instance: { cacheKey: string; id: string }): string {
  return `bdlab-${instance.id.replace(/\[.*$/, '')}-${instance.cacheKey.slice(0, 12)}`;
}
