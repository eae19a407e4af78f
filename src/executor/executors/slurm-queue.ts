import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueEntry, SlurmCommands } from './slurm-commands.js';

/** What one poll says about a job: its queue entry, or that squeue no longer lists it. */
export type QueueReport = { entry: QueueEntry } | { gone: true } | { unreachable: string };

/** At most ten submissions a second: a sweep must not flood the controller (each sbatch is an RPC). */
const MIN_SUBMIT_GAP_MS = 100;
/** scancel requests arriving within this window go out as one call (Ctrl-C cancels every job at once). */
const CANCEL_BATCH_MS = 50;
/** squeue failing for this long means the controller is gone for good: the run's jobs are given up. */
const UNREACHABLE_AFTER_MS = 10 * 60_000;

/**
 * The head's one connection to the queue: a single squeue call per poll interval covers every job
 * the run is following, submissions are serialized and rate-limited, cancellations are batched.
 */
export class SlurmQueue {
  private readonly watchers = new Map<string, Set<(report: QueueReport) => void>>();
  private loop: Promise<void> | undefined;
  private readonly stopLoop = new AbortController();
  private submitChain: Promise<unknown> = Promise.resolve();
  private lastSubmitAt = 0;
  private readonly toCancel = new Set<string>();
  private cancelFlush: Promise<void> | undefined;
  /** squeue calls made so far (the bench reports it). */
  polls = 0;

  constructor(
    readonly commands: SlurmCommands,
    private readonly pollIntervalMs: number,
    private readonly onWarning: (message: string) => void,
  ) {}

  /** Calls `listener` after every poll until the returned function is called. */
  watch(jobId: string, listener: (report: QueueReport) => void): () => void {
    let set = this.watchers.get(jobId);
    if (!set) this.watchers.set(jobId, (set = new Set()));
    set.add(listener);
    this.loop ??= this.poll();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.watchers.delete(jobId);
    };
  }

  submit(script: string): Promise<string> {
    const submission = this.submitChain.then(async () => {
      const wait = this.lastSubmitAt + MIN_SUBMIT_GAP_MS - Date.now();
      if (wait > 0) await sleep(wait);
      this.lastSubmitAt = Date.now();
      return this.commands.sbatch(script);
    });
    this.submitChain = submission.catch(() => undefined);
    return submission;
  }

  cancel(jobId: string): Promise<void> {
    this.toCancel.add(jobId);
    this.cancelFlush ??= sleep(CANCEL_BATCH_MS).then(() => {
      const ids = [...this.toCancel];
      this.toCancel.clear();
      this.cancelFlush = undefined;
      return this.commands.scancel(ids);
    });
    return this.cancelFlush;
  }

  async close(): Promise<void> {
    this.stopLoop.abort();
    await this.loop;
  }

  private async poll(): Promise<void> {
    let failingSince: number | undefined;
    for (;;) {
      // Checked and cleared in one step: a job watched right after this starts a new loop.
      if (this.watchers.size === 0 || this.stopLoop.signal.aborted) {
        this.loop = undefined;
        return;
      }
      const ids = [...this.watchers.keys()];
      let reports: (id: string) => QueueReport;
      try {
        this.polls += 1;
        const entries = await this.commands.squeue(ids);
        if (failingSince !== undefined) this.onWarning('squeue answers again');
        failingSince = undefined;
        reports = (id) => {
          const entry = entries.get(id);
          return entry ? { entry } : { gone: true };
        };
      } catch (err) {
        const message = (err as Error).message;
        if (failingSince === undefined) {
          failingSince = Date.now();
          this.onWarning(`${message}; asking again every poll interval`);
        }
        if (Date.now() - failingSince <= UNREACHABLE_AFTER_MS) {
          await sleep(this.pollIntervalMs, undefined, { signal: this.stopLoop.signal }).catch(() => undefined);
          continue;
        }
        const unreachable = `the Slurm controller did not answer for ${UNREACHABLE_AFTER_MS / 60_000} minutes (${message})`;
        reports = () => ({ unreachable });
      }
      for (const id of ids) for (const listener of [...(this.watchers.get(id) ?? [])]) listener(reports(id));
      await sleep(this.pollIntervalMs, undefined, { signal: this.stopLoop.signal }).catch(() => undefined);
    }
  }
}
