/**
 * Every Slurm job state bdlab can see, and what it means for the instance: one table, read by the
 * executor and by the tests. States are those of squeue/scontrol/sacct (`JobState`, `%T`); `LOST`
 * is ours: the job left the queue, no Slurm command knows it any more, and it left no result file.
 */
export type JobPhase =
  /** Waiting in the queue (the reason says why). */
  | 'queued'
  /** Started on a node (or being finished up there). */
  | 'running'
  /** Ended: see `outcome`. */
  | 'ended';

export type JobEnding =
  /** Success if, and only if, the job left a result file saying so. */
  | 'completed'
  /** The instance failed; `retry` says whether it's worth submitting again. */
  | 'failed';

export interface SlurmStateMeaning {
  phase: JobPhase;
  ending?: JobEnding;
  /** Submit again (up to `settings.slurm.retries`): the job was not at fault. */
  retry?: boolean;
  /** How a failure reads in messages: `Slurm job 42 <describe>`. */
  describe?: string;
}

export const SLURM_STATES: Readonly<Record<string, SlurmStateMeaning>> = {
  PENDING: { phase: 'queued' },
  CONFIGURING: { phase: 'queued' },
  REQUEUED: { phase: 'queued' },
  REQUEUE_HOLD: { phase: 'queued' },
  REQUEUE_FED: { phase: 'queued' },
  RESV_DEL_HOLD: { phase: 'queued' },
  SUSPENDED: { phase: 'running' },
  RUNNING: { phase: 'running' },
  COMPLETING: { phase: 'running' },
  SIGNALING: { phase: 'running' },
  STAGE_OUT: { phase: 'running' },
  RESIZING: { phase: 'running' },
  STOPPED: { phase: 'running' },
  COMPLETED: { phase: 'ended', ending: 'completed' },
  FAILED: { phase: 'ended', ending: 'failed', describe: 'failed' },
  CANCELLED: { phase: 'ended', ending: 'failed', describe: 'was cancelled' },
  TIMEOUT: { phase: 'ended', ending: 'failed', describe: 'hit its time limit' },
  DEADLINE: { phase: 'ended', ending: 'failed', describe: 'missed its deadline' },
  OUT_OF_MEMORY: { phase: 'ended', ending: 'failed', describe: 'exceeded its memory limit' },
  NODE_FAIL: { phase: 'ended', ending: 'failed', retry: true, describe: 'lost its node (node failure)' },
  BOOT_FAIL: { phase: 'ended', ending: 'failed', retry: true, describe: 'could not boot its node' },
  PREEMPTED: { phase: 'ended', ending: 'failed', retry: true, describe: 'was preempted' },
  REVOKED: { phase: 'ended', ending: 'failed', describe: 'was revoked (it runs on another cluster of a federation)' },
  SPECIAL_EXIT: { phase: 'ended', ending: 'failed', describe: 'ended in SPECIAL_EXIT (held by Slurm)' },
  LOST: { phase: 'ended', ending: 'failed', describe: 'vanished from the queue without leaving a result (lost)' },
};

/** The meaning of a state as Slurm prints it (`CANCELLED by 0` and `CANCELLED+` are CANCELLED). */
export function meaningOf(state: string): SlurmStateMeaning & { state: string } {
  const base = /^[A-Z_]+/.exec(state)?.[0] ?? state;
  const meaning = SLURM_STATES[base];
  // A state newer than this table: treat it as still in progress rather than guess an ending.
  return { state: base, ...(meaning ?? { phase: 'running' }) };
}

/** `Slurm job 42 was cancelled (CANCELLED)`: the text an instance fails with. */
export function describeEnding(jobId: string, state: string, detail?: string): string {
  const meaning = meaningOf(state);
  return `Slurm job ${jobId} ${meaning.describe ?? state.toLowerCase()}${detail ? ` ${detail}` : ''} (${meaning.state})`;
}
