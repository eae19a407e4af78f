import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LockManager, LockOwner } from './lock.js';

/**
 * A run in progress registers itself so `bdlab gc` leaves alone what it uses: it holds the lock
 * `run-<token>` (whether it still lives is then decided like for any lock: pid on this host,
 * heartbeat elsewhere) and appends to `<cacheDir>/live/<token>.txt` its run directory and every
 * cache key it is about to look up, BEFORE looking it up. gc reads these files after listing what
 * it could delete, and checks again right after moving an entry aside (see gc.ts), so an entry a
 * run has found is never deleted under it.
 *
 * File format: one record per line, `run <absolute run dir>` or `key <cache key>`.
 */
export class LiveRun {
  private readonly claimed = new Set<string>();
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly release: () => Promise<void>,
  ) {}

  static liveDir(cacheDir: string): string {
    return join(cacheDir, 'live');
  }

  /** Takes the run's lock first, then creates its file: a file without a held lock is a dead run's. */
  static async start(cacheDir: string, locks: LockManager): Promise<LiveRun> {
    const token = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const release = await locks.acquire(`run-${token}`, new AbortController().signal);
    const dir = LiveRun.liveDir(cacheDir);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${token}.txt`);
    return new LiveRun(openSync(file, 'a'), file, release);
  }

  /** Records the run directory (before anything is written into it). */
  runDir(dir: string): void {
    this.append(`run ${dir}\n`);
  }

  /** Records a cache key the run is about to use; synchronous, so it is on disk before the lookup. */
  claim(key: string): void {
    if (this.claimed.has(key)) return;
    this.claimed.add(key);
    this.append(`key ${key}\n`);
  }

  async end(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    await rm(this.file, { force: true });
    await this.release();
  }

  private append(text: string): void {
    if (!this.closed) writeSync(this.fd, text);
  }
}

export interface LiveRunRecord {
  token: string;
  owner?: LockOwner;
  runDirs: Set<string>;
  keys: Set<string>;
}

/**
 * Reads the registrations of live runs, incrementally: `refresh()` reads only what was appended
 * since the last call, so gc can check again before every deletion at little cost. Registrations of
 * dead runs are removed (with `removeDead`) and not reported.
 */
export class LiveRunsView {
  private readonly offsets = new Map<string, number>();
  private readonly records = new Map<string, LiveRunRecord>();

  constructor(
    private readonly cacheDir: string,
    private readonly locks: LockManager,
    private readonly removeDead: boolean,
  ) {}

  get runs(): LiveRunRecord[] {
    return [...this.records.values()];
  }

  /** The live run that uses `key`, if any. */
  userOfKey(key: string): LiveRunRecord | undefined {
    for (const record of this.records.values()) if (record.keys.has(key)) return record;
    return undefined;
  }

  userOfRunDir(dir: string): LiveRunRecord | undefined {
    for (const record of this.records.values()) if (record.runDirs.has(dir)) return record;
    return undefined;
  }

  /** Registrations found dead by refreshes so far (removed when `removeDead`). */
  readonly removed: string[] = [];

  async refresh(): Promise<void> {
    const dir = LiveRun.liveDir(this.cacheDir);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const match = /^(\d+-[0-9a-f]+)\.txt$/.exec(name);
      if (!match) continue;
      const token = match[1]!;
      const file = join(dir, name);
      let record = this.records.get(token);
      if (!record) {
        const lock = await this.locks.inspect(`run-${token}`);
        if (lock.state !== 'held') {
          // The run's process is gone (or the file outlived its lock): a leftover.
          if (this.removed.includes(`live/${name}`)) continue;
          this.removed.push(`live/${name}`);
          if (this.removeDead) {
            await rm(file, { force: true });
            await this.locks.breakIfDead(`run-${token}`);
          }
          continue;
        }
        record = { token, owner: lock.owner, runDirs: new Set(), keys: new Set() };
        this.records.set(token, record);
      }
      await this.readNew(file, token, record);
    }
  }

  private async readNew(file: string, token: string, record: LiveRunRecord): Promise<void> {
    const from = this.offsets.get(token) ?? 0;
    const size = await stat(file).then((s) => s.size, () => from);
    if (size <= from) return;
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(size - from);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
      const text = buffer.subarray(0, bytesRead).toString('utf8');
      // Only whole lines: a record being written right now is read next time.
      const end = text.lastIndexOf('\n') + 1;
      this.offsets.set(token, from + Buffer.byteLength(text.slice(0, end)));
      for (const line of text.slice(0, end).split('\n')) {
        if (line.startsWith('key ')) record.keys.add(line.slice(4));
        else if (line.startsWith('run ')) record.runDirs.add(line.slice(4));
      }
    } finally {
      await handle.close();
    }
  }
}
