import type { StageResources } from '../../pipeline/resources.js';
import type { StageProgress, StageResult } from '../../common/stage-contract.js';
import type { PendingEntry } from '../cache.js';
import type { ChildStartMessage } from '../../common/stage-protocol.js';
import type { BackendInfo, JobUpdate } from '../events.js';
import type { CacheKey, ContentHash } from '../fingerprint.js';

/**
 * One instance to run. Scheduling, caching, locks and the run directory belong to the scheduler;
 * an executor only starts the instance, follows its state until it ends, and stops it when
 * `signal` aborts.
 */
export interface InstanceLaunch {
  id: string;
  cacheKey: CacheKey;
  /** Everything the stage needs; `start.outDir` is `pending.outputsDir`. */
  start: ChildStartMessage;
  pending: PendingEntry;
  resources: StageResources;
  /** Threads for the stage's kernels ($BDLAB_THREADS in its process). */
  threads: number;
  /** The instance's log.txt in the run directory; the executor appends the stage's lines. */
  logFile: string;
  signal: AbortSignal;
  onProgress(progress: StageProgress): void;
  onLog(line: string, stream: 'log' | 'stdout' | 'stderr'): void;
  onBackend(backend: BackendInfo): void;
  /** Queue state changes of a cluster job (queued with its reason, running on a node). */
  onJob(job: JobUpdate): void;
}

/**
 * How an instance ended. `pending` is the directory that holds (or held) its outputs: usually the
 * launch's, but a Slurm job adopted from a killed run wrote into that run's directory. On success
 * the scheduler commits it; on failure the executor has already discarded any directory other
 * than the launch's.
 */
export type InstanceEnd =
  | { ok: true; result: StageResult; pending: PendingEntry; /** Content hash of the outputs as the instance saw them, when it reports one. */ contentHash?: ContentHash; job?: JobUpdate }
  | { ok: false; message: string; userFacing: boolean; detail?: string; interrupted: boolean; job?: JobUpdate };

export type Preflight = { ok: true } | { ok: false; message: string };

export interface Executor {
  readonly name: 'local' | 'slurm';
  /** `--jobs` slots one instance takes while it runs. */
  slotsOf(resources: StageResources): number;
  /** Checks that instances can be started at all (before the run directory exists). */
  preflight(): Promise<Preflight>;
  run(launch: InstanceLaunch): Promise<InstanceEnd>;
  /** Stops background work (queue polling); called once after the last instance ended. */
  close(): Promise<void>;
}
