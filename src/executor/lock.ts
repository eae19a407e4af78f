import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { isCode, removeByRenamingAside } from './fs-removal.js';
import { isAlive } from './process-alive.js';

export type ReleaseLock = () => Promise<void>;

/** Recorded inside the lock directory by its holder. */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

export interface LockOptions {
  /** A lock whose mtime hasn't been refreshed for this long is stale (holder hung or on another host). */
  staleMs?: number;
  /** Upper bound of the polling interval while waiting. */
  maxPollMs?: number;
}

/**
 * One lock per cache key, so a stage instance is built at most once even when several `bdlab run`
 * processes share a workspace. proper-lockfile (an atomic mkdir plus a periodically refreshed
 * mtime) handles holders on other hosts; additionally the holder's pid is recorded inside the lock
 * directory, so a lock left by a killed process on this host is broken at once instead of after
 * the staleness timeout. The cache itself doesn't rely on exclusivity (commits are atomic
 * renames), the lock only avoids doing the same work twice.
 */
export class LockManager {
  private readonly staleMs: number;
  private readonly maxPollMs: number;

  constructor(
    private readonly locksDir: string,
    options: LockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? 10_000;
    this.maxPollMs = options.maxPollMs ?? 500;
  }

  /**
   * Waits until the lock for `key` is ours. `onWait` is called once if someone else holds it.
   * Rejects with the signal's reason when aborted.
   */
  async acquire(key: string, signal: AbortSignal, onWait?: (owner: LockOwner | undefined) => void): Promise<ReleaseLock> {
    await mkdir(this.locksDir, { recursive: true });
    const target = join(this.locksDir, key);
    const lockPath = `${target}.lock`;
    let delay = 25;
    let announced = false;
    for (;;) {
      signal.throwIfAborted();
      try {
        const release = await lockfile.lock(target, {
          realpath: false,
          lockfilePath: lockPath,
          stale: this.staleMs,
          retries: 0,
          // Losing a lock (e.g. the machine slept past the stale time) must not crash the run;
          // the worst outcome is a duplicate build, which the atomic commit tolerates.
          onCompromised: () => undefined,
        });
        const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
        await writeFile(join(lockPath, 'owner.json'), JSON.stringify(owner));
        return async () => {
          await rm(join(lockPath, 'owner.json'), { force: true });
          await release().catch(() => undefined);
        };
      } catch (err) {
        const staleByMtime = isCode(err, 'ENOTEMPTY');
        if (!isCode(err, 'ELOCKED') && !staleByMtime) throw err;
        const owner = await readOwner(lockPath);
        if (staleByMtime || (owner && owner.host === hostname() && !isAlive(owner.pid))) {
          await breakLock(lockPath);
          continue;
        }
        if (!announced) {
          announced = true;
          onWait?.(owner);
        }
        await sleep(delay, undefined, { signal }).catch(() => {
          throw signal.reason;
        });
        delay = Math.min(delay * 2, this.maxPollMs);
      }
    }
  }
}

async function readOwner(lockPath: string): Promise<LockOwner | undefined> {
  try {
    return JSON.parse(await readFile(join(lockPath, 'owner.json'), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * Renamed aside before deleting so the delete can't hit a lock created meanwhile. Two processes
 * breaking the same dead lock at once can still both end up building; that only costs time.
 */
async function breakLock(lockPath: string): Promise<void> {
  await removeByRenamingAside(lockPath, 'broken');
}
