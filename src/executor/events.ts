import type { JsonObject } from '../common/json.js';
import type { Plan } from '../pipeline/types.js';
import type { StageProgress } from '../common/stage-contract.js';
import type { CacheKey } from './fingerprint.js';

export type InstanceStatus = 'pending' | 'running' | 'succeeded' | 'cached' | 'failed' | 'skipped' | 'interrupted';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface BackendInfo {
  name: string;
  versions: Record<string, string>;
  /** Threads the stage's kernels used (reported by the stage; absent from entries cached before threads existed). */
  threads?: number;
}

/** What the head knows about an instance's cluster job; sent on every change. */
export interface JobUpdate {
  executor: 'slurm';
  jobId: string;
  /** Slurm's state as squeue/scontrol print it: PENDING, RUNNING, COMPLETED, TIMEOUT, ... */
  state: string;
  phase: 'queued' | 'running' | 'ended';
  /** Why a queued job waits (squeue's reason: Priority, Resources, ...). */
  reason?: string;
  node?: string;
  /** This run took the job over from an earlier run that was killed, instead of submitting it again. */
  adopted?: boolean;
  /** 1 for the first submission; more when a preempted or node-failed job was submitted again. */
  attempt: number;
}

export interface RunCounts {
  succeeded: number;
  cached: number;
  failed: number;
  skipped: number;
  interrupted: number;
}

/** Everything a run reports. Displays, the manifest writer and tests are all consumers of these. */
export type RunEvent =
  | { type: 'run-started'; runId: string; runDir: string; plan: Plan; total: number; startedAt: string; /** Ids in scope, in plan order. */ instances: string[] }
  /** The instance is being started (a child process, or a cluster job); not emitted for cache hits. */
  | { type: 'instance-started'; id: string; cacheKey: CacheKey; ordinal: number; total: number; /** Threads the stage is given (BDLAB_THREADS). */ threads: number }
  | { type: 'lock-wait'; id: string; cacheKey: CacheKey; ownerPid?: number }
  | { type: 'progress'; id: string; progress: StageProgress }
  | { type: 'log'; id: string; line: string; stream: 'log' | 'stdout' | 'stderr' }
  | { type: 'backend'; id: string; backend: BackendInfo }
  | { type: 'job'; id: string; job: JobUpdate }
  | { type: 'cache-hit'; id: string; cacheKey: CacheKey; ordinal: number; total: number; metrics?: JsonObject; backend?: BackendInfo }
  | { type: 'cache-corrupt'; id: string; cacheKey: CacheKey; reason: string }
  | { type: 'succeeded'; id: string; cacheKey: CacheKey; durationMs: number; metrics?: JsonObject }
  | { type: 'failed'; id: string; cacheKey?: CacheKey; durationMs: number; error: string; userFacing: boolean; detail?: string }
  | { type: 'skipped'; id: string; reason: string }
  | { type: 'interrupted'; id: string }
  | { type: 'run-finished'; status: Exclude<RunStatus, 'running'>; counts: RunCounts; durationMs: number; endedAt: string };

export type RunEventListener = (event: RunEvent) => void;

/** Synchronous fan-out: a listener that throws is a bug in that listener, so it isn't caught here. */
export class RunEvents {
  private readonly listeners: RunEventListener[] = [];

  /** `first`: called before existing listeners (the manifest must be on disk before a display reports progress). */
  on(listener: RunEventListener, options: { first?: boolean } = {}): () => void {
    if (options.first) this.listeners.unshift(listener);
    else this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  emit(event: RunEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

export function emptyCounts(): RunCounts {
  return { succeeded: 0, cached: 0, failed: 0, skipped: 0, interrupted: 0 };
}
