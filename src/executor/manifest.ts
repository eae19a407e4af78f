import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo, InstanceStatus, JobUpdate, RunCounts, RunEvent, RunStatus } from './events.js';
import { emptyCounts } from './events.js';
import type { GitInfo } from './git-info.js';
import { MANIFEST_FILE } from './run-dir.js';

export interface InstanceRecord {
  status: InstanceStatus;
  cacheKey: string | null;
  durationMs: number | null;
  backend?: BackendInfo;
  error?: string;
  /** The cluster job that ran the instance (Slurm executor): its id, last state and node. */
  job?: Omit<JobUpdate, 'phase' | 'reason'>;
}

/** `manifest.json` of a run directory: rewritten (atomically) as the run progresses. */
export interface Manifest {
  runId: string;
  tool: { name: 'bdlab'; version: string };
  node: string;
  platform: string;
  pipeline: { name: string; file: string; git: GitInfo | null };
  workspace: string;
  cacheDir: string;
  /** threads: each stage's kernel threads (--threads, resolved; resources.cpus caps it per instance, see backend.threads). */
  options: { executor: string; jobs: number; threads: number; only: string[]; force: string[]; failFast: boolean; backend: string; dataPath: string[] };
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  status: RunStatus;
  /** Distinct TF.js backends the stages reported, with how many instances used each. */
  backends: (BackendInfo & { instances: number })[];
  counts: RunCounts;
  instances: Record<string, InstanceRecord>;
}

/**
 * Keeps manifest.json in step with the run's events. A stage starting or finishing is written at
 * once (synchronously, a few KiB), so even a run killed right after leaves an accurate manifest;
 * bursts of cheap events (cache hits, skips) are coalesced into one write.
 */
export class ManifestWriter {
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;

  constructor(
    runDir: string,
    readonly manifest: Manifest,
    private readonly delayMs = 100,
  ) {
    this.file = join(runDir, MANIFEST_FILE);
  }

  readonly listener = (event: RunEvent): void => {
    const m = this.manifest;
    const rec = 'id' in event ? m.instances[event.id] : undefined;
    switch (event.type) {
      case 'instance-started':
        if (rec) Object.assign(rec, { status: 'running', cacheKey: event.cacheKey });
        break;
      case 'cache-hit':
        if (rec) Object.assign(rec, { status: 'cached', cacheKey: event.cacheKey, durationMs: 0, ...(event.backend ? { backend: event.backend } : {}) });
        if (event.backend) this.summarizeBackends();
        break;
      case 'job': {
        if (!rec) break;
        const { phase: _phase, reason: _reason, ...job } = event.job;
        // Queue reasons change often; the manifest is rewritten when the job id, state or node does.
        const changed = rec.job?.jobId !== job.jobId || rec.job?.state !== job.state || rec.job?.node !== job.node;
        rec.job = job;
        if (changed) this.writeNow();
        return;
      }
      case 'backend':
        if (rec) rec.backend = event.backend;
        this.summarizeBackends();
        break;
      case 'succeeded':
        if (rec) Object.assign(rec, { status: 'succeeded', cacheKey: event.cacheKey, durationMs: event.durationMs });
        break;
      case 'failed':
        if (rec) Object.assign(rec, { status: 'failed', cacheKey: event.cacheKey ?? rec.cacheKey, durationMs: event.durationMs, error: event.error });
        break;
      case 'skipped':
        if (rec) Object.assign(rec, { status: 'skipped', error: event.reason });
        break;
      case 'interrupted':
        if (rec) rec.status = 'interrupted';
        break;
      case 'run-finished':
        Object.assign(m, { status: event.status, endedAt: event.endedAt, durationMs: event.durationMs, counts: event.counts });
        this.schedule(0);
        return;
      default:
        return;
    }
    m.counts = countStatuses(m.instances);
    const important = event.type === 'instance-started' || event.type === 'succeeded' || event.type === 'failed' || event.type === 'interrupted';
    if (important) this.writeNow();
    else this.schedule(this.delayMs);
  };

  private writeNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const tmp = `${this.file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(this.manifest, null, 2) + '\n');
      renameSync(tmp, this.file);
    } catch {
      // A full disk must not fail the run; the next write tries again.
    }
  }

  /** Writes now. Every write is synchronous, so writes can never land out of order. */
  async flush(): Promise<void> {
    this.writeNow();
  }

  private schedule(delay: number): void {
    if (delay === 0) return this.writeNow();
    if (!this.timer) this.timer = setTimeout(() => this.writeNow(), delay);
  }

  private summarizeBackends(): void {
    const byKey = new Map<string, BackendInfo & { instances: number }>();
    for (const rec of Object.values(this.manifest.instances)) {
      if (!rec.backend) continue;
      const k = rec.backend.name + JSON.stringify(rec.backend.versions);
      const entry = byKey.get(k) ?? { ...rec.backend, instances: 0 };
      entry.instances += 1;
      byKey.set(k, entry);
    }
    this.manifest.backends = [...byKey.values()];
  }
}

export function countStatuses(instances: Record<string, InstanceRecord>): RunCounts {
  const counts = emptyCounts();
  for (const rec of Object.values(instances)) {
    if (rec.status in counts) counts[rec.status as keyof RunCounts] += 1;
  }
  return counts;
}
