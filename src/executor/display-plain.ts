import { relative } from 'node:path';
import type { JobUpdate, RunEvent, RunEventListener } from './events.js';
import { shortKey } from './fingerprint.js';

export interface PlainDisplayOptions {
  out(line: string): void;
  err(line: string): void;
  /** Minimum time between two progress lines of one instance. */
  progressIntervalMs?: number;
  /** Paths are printed relative to this directory. */
  cwd: string;
  /** Also print every log line of every stage. */
  verbose?: boolean;
}

/** Line-oriented display for logs, CI and pipes: one line per state change, progress throttled. */
export function plainDisplay(opts: PlainDisplayOptions): RunEventListener {
  // Logs of multi-hour sweeps stay readable: one progress line per instance every 10 s at most.
  const interval = opts.progressIntervalMs ?? 10_000;
  const ordinals = new Map<string, string>();
  const lastProgress = new Map<string, { at: number; message: string }>();
  const jobPhase = new Map<string, string>();
  let runDir = '';
  const tag = (id: string): string => ordinals.get(id) ?? '';
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return (e: RunEvent) => {
    switch (e.type) {
      case 'run-started':
        runDir = e.runDir;
        opts.out(`bdlab: ${e.plan.name}: ${e.total} instance(s); run directory ${relative(opts.cwd, e.runDir) || '.'}`);
        break;
      case 'instance-started':
        ordinals.set(e.id, `[${e.ordinal}/${e.total}] `);
        opts.out(`${tag(e.id)}${e.id} running (key ${shortKey(e.cacheKey)}, ${e.threads} thread${e.threads === 1 ? '' : 's'})`);
        break;
      case 'lock-wait':
        opts.out(`${tag(e.id)}${e.id} waiting: ${e.ownerPid === process.pid ? 'another instance of this run' : `another bdlab process${e.ownerPid ? ` (pid ${e.ownerPid})` : ''}`} is building the same cache entry`);
        break;
      case 'progress': {
        const now = Date.now();
        const last = lastProgress.get(e.id);
        if (!e.progress.message || e.progress.message === last?.message || now - (last?.at ?? 0) < interval) break;
        lastProgress.set(e.id, { at: now, message: e.progress.message });
        opts.out(`${tag(e.id)}${e.id} running: ${e.progress.message}`);
        break;
      }
      case 'job': {
        // One line per phase (queued, running): queue reasons change too often for a log.
        const { job } = e;
        const seen = `${job.jobId}:${job.phase}`;
        if (job.phase === 'ended' || jobPhase.get(e.id) === seen) break;
        jobPhase.set(e.id, seen);
        opts.out(`${tag(e.id)}${e.id} ${describeJob(job)}`);
        break;
      }
      case 'log':
        if (opts.verbose) opts.out(`  ${e.id} | ${e.line}`);
        break;
      case 'cache-hit':
        ordinals.set(e.id, `[${e.ordinal}/${e.total}] `);
        opts.out(`✓ ${tag(e.id)}${e.id} (cached)`);
        break;
      case 'cache-corrupt':
        opts.err(`bdlab: warning: cache entry ${shortKey(e.cacheKey)} of ${e.id} is corrupt (${e.reason}); discarding it and rebuilding`);
        break;
      case 'succeeded':
        opts.out(`✓ ${tag(e.id)}${e.id} (${seconds(e.durationMs)})`);
        break;
      case 'failed':
        opts.out(`✗ ${tag(e.id)}${e.id} failed: ${e.error}`);
        break;
      case 'skipped':
        opts.out(`- ${e.id} skipped: ${e.reason}`);
        break;
      case 'interrupted':
        opts.out(`✗ ${tag(e.id)}${e.id} interrupted`);
        break;
      case 'run-finished':
        opts.out(formatRunSummary(e, relative(opts.cwd, runDir) || '.'));
        break;
      case 'backend':
        break;
    }
  };
}

/** `queued as Slurm job 42 (Priority)`, `running on node01 (Slurm job 42)`. */
export function describeJob(job: JobUpdate): string {
  const adopted = job.adopted ? ', adopted from an earlier run' : '';
  const attempt = job.attempt > 1 ? `, attempt ${job.attempt}` : '';
  if (job.phase === 'queued') return `queued as Slurm job ${job.jobId}${job.reason ? ` (${job.reason})` : ''}${adopted}${attempt}`;
  return `running on ${job.node ?? 'a node'} (Slurm job ${job.jobId}${adopted}${attempt})`;
}

/** `bdlab: run failed: 3 succeeded, 2 cached, 1 failed, 2 skipped in 4.20 s; see runs/...` */
export function formatRunSummary(e: Extract<RunEvent, { type: 'run-finished' }>, runDir: string): string {
  const c = e.counts;
  const parts = [`${c.succeeded} succeeded`, `${c.cached} cached`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  if (c.interrupted) parts.push(`${c.interrupted} interrupted`);
  const secs = e.durationMs / 1000;
  return `bdlab: run ${e.status}: ${parts.join(', ')} in ${secs.toFixed(secs < 10 ? 2 : 1)} s; see ${runDir}`;
}
