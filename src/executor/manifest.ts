import { join } from 'node:path';
import type { BackendInfo, InstanceStatus, RunCounts, RunEvent, RunStatus } from './events.js';
import { emptyCounts } from './events.js';
import type { GitInfo } from './git-info.js';
import { writeJsonAtomic } from './json-file.js';
import { MANIFEST_FILE } from './run-dir.js';

export interface InstanceRecord {
  status: InstanceStatus;
  cacheKey: string | null;
  durationMs: number | null;
  backend?: BackendInfo;
  error?: string;
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
  options: { jobs: number; only: string[]; force: string[]; failFast: boolean; backend: string; dataPath: string[] };
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
 * Keeps manifest.json in step with the run's events. Writes are coalesced (a burst of cache hits
 * is one write) and serialized; a killed run still leaves the last written state behind.
 */
export class ManifestWriter {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
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
        if (rec) Object.assign(rec, { status: 'cached', cacheKey: event.cacheKey, durationMs: 0 });
        break;
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
    this.schedule(this.delayMs);
  };

  /** Writes now and waits for every pending write. */
  async flush(): Promise<void> {
    this.schedule(0);
    await this.chain;
  }

  private schedule(delay: number): void {
    if (this.timer) {
      if (delay > 0) return;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const write = (): void => {
      this.timer = undefined;
      const snapshot = structuredClone(this.manifest);
      this.chain = this.chain.then(() => writeJsonAtomic(this.file, snapshot)).catch(() => undefined);
    };
    if (delay === 0) write();
    else this.timer = setTimeout(write, delay);
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
