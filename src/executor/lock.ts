import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCode } from './fs-removal.js';
import { isAlive, processStartTime } from './process-alive.js';

export type ReleaseLock = () => Promise<void>;

/** `owner.json` inside a lock directory, rewritten by its holder on every heartbeat. */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** Unique per acquisition: tells this holding apart from a later one of the same key. */
  token?: string;
  /** The holder's process start time (see processStartTime), against pid reuse. */
  started?: string;
  /** Heartbeat counter: a holder on another host is alive while this keeps changing. */
  beat?: number;
}

/** Default of LockOptions.staleMs; BDLAB_LOCK_STALE_MS overrides it (see cli/open.ts). */
export const DEFAULT_LOCK_STALE_MS = 30_000;

export interface LockOptions {
  /**
   * A holder on another host whose heartbeat hasn't changed for this long (measured on our own
   * clock, so clock skew between hosts doesn't matter) is taken to be gone. Holders on this host are
   * judged by their pid instead, and never time out.
   */
  staleMs?: number;
  /** Upper bound of the polling interval while waiting. */
  maxPollMs?: number;
}

/** What a lock's directory says about its holder right now. */
export type LockState =
  | { state: 'free' }
  | { state: 'held'; owner: LockOwner }
  /** The holder is gone (dead pid on this host, or no owner record): the lock may be broken. */
  | { state: 'dead'; owner: LockOwner | undefined };

const OWNER_FILE = 'owner.json';

/**
 * One lock per name (a cache key, or a run's registration), so a stage instance is built at most
 * once even when several `bdlab run` processes share a cache. A lock is a directory
 * `<locksDir>/<name>.lock` holding `owner.json`; it appears by renaming a prepared directory into
 * place, so it is never seen without its owner record. The holder rewrites the record on a
 * heartbeat for as long as it lives, however long the stage runs. A waiter breaks the lock only when
 * the holder is certainly gone: at once for a dead pid on this host, after `staleMs` without a
 * heartbeat for a holder on another host (shared filesystems). A live holder on this host is never
 * broken. The cache itself doesn't rely on exclusivity (commits are atomic renames): a lock only
 * avoids building the same thing twice.
 */
export class LockManager {
  readonly staleMs: number;
  private readonly maxPollMs: number;
  private readonly host = hostname();
  private readonly started = processStartTime(process.pid);

  constructor(
    readonly locksDir: string,
    options: LockOptions = {},
  ) {
    this.staleMs = options.staleMs ?? DEFAULT_LOCK_STALE_MS;
    this.maxPollMs = options.maxPollMs ?? 500;
  }

  lockPath(name: string): string {
    return join(this.locksDir, `${name}.lock`);
  }

  /**
   * Waits until the lock `name` is ours. `onWait` is called once if someone else holds it.
   * Rejects with the signal's reason when aborted. The returned function releases the lock
   * (only if it is still ours).
   */
  async acquire(name: string, signal: AbortSignal, onWait?: (owner: LockOwner | undefined) => void): Promise<ReleaseLock> {
    await mkdir(this.locksDir, { recursive: true });
    const lockPath = this.lockPath(name);
    let delay = 25;
    let announced = false;
    // Another host's heartbeat as last seen, and when (our clock) it was first seen unchanged.
    let foreign: { beat: string; since: number } | undefined;
    for (;;) {
      signal.throwIfAborted();
      const owner: LockOwner = { pid: process.pid, host: this.host, since: new Date().toISOString(), token: randomBytes(8).toString('hex'), beat: 0 };
      if (this.started !== undefined) owner.started = this.started;
      if (await this.tryCreate(name, lockPath, owner)) return this.hold(lockPath, owner);

      const found = await this.inspect(name);
      if (found.state === 'free') continue;
      if (found.state === 'dead') {
        await breakLock(lockPath, found.owner?.token);
        continue;
      }
      if (found.owner.host !== this.host) {
        const beat = `${found.owner.token}:${found.owner.beat}`;
        if (foreign?.beat !== beat) foreign = { beat, since: Date.now() };
        else if (Date.now() - foreign.since >= this.staleMs) {
          await breakLock(lockPath, found.owner.token);
          foreign = undefined;
          continue;
        }
      }
      if (!announced) {
        announced = true;
        onWait?.(found.owner);
      }
      await sleep(delay, undefined, { signal }).catch(() => {
        throw signal.reason;
      });
      delay = Math.min(delay * 2, this.maxPollMs);
    }
  }

  /**
   * The lock's state as far as one look can tell. A holder on another host counts as held here (only
   * a waiter watching its heartbeat over time can tell that it stopped).
   */
  async inspect(name: string): Promise<LockState> {
    const lockPath = this.lockPath(name);
    const owner = await readOwner(lockPath);
    if (owner === 'missing') return { state: 'free' };
    if (owner === undefined) return { state: 'dead', owner: undefined };
    if (owner.host === this.host && !isAlive(owner.pid, owner.started)) return { state: 'dead', owner };
    return { state: 'held', owner };
  }

  /** Names of the locks present in the directory (held or not). */
  async names(): Promise<string[]> {
    const entries = await readdir(this.locksDir).catch(() => [] as string[]);
    return entries.filter((n) => n.endsWith('.lock') && !n.startsWith('.')).map((n) => n.slice(0, -'.lock'.length));
  }

  /** Breaks the lock if its holder is gone; true when it was (or nothing was left). */
  async breakIfDead(name: string): Promise<boolean> {
    const found = await this.inspect(name);
    if (found.state === 'held') return false;
    if (found.state === 'dead') await breakLock(this.lockPath(name), found.owner?.token);
    return true;
  }

  private async tryCreate(name: string, lockPath: string, owner: LockOwner): Promise<boolean> {
    const staging = join(this.locksDir, `.${name}.new.${process.pid}.${randomBytes(4).toString('hex')}`);
    await mkdir(staging);
    try {
      await writeFile(join(staging, OWNER_FILE), JSON.stringify(owner));
      await rename(staging, lockPath);
      return true;
    } catch (err) {
      // Someone holds it (a non-empty directory is there).
      if (isCode(err, 'ENOTEMPTY') || isCode(err, 'EEXIST')) return false;
      throw err;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  private hold(lockPath: string, owner: LockOwner): ReleaseLock {
    let lost = false;
    let beating: Promise<void> = Promise.resolve();
    const beat = async (): Promise<void> => {
      const current = await readOwner(lockPath);
      if (typeof current !== 'object' || current.token !== owner.token) {
        // Broken by someone who judged us gone (e.g. this host slept for longer than staleMs).
        // The worst outcome is a duplicate build, which the atomic cache commit tolerates.
        lost = true;
        clearInterval(timer);
        return;
      }
      owner.beat = (owner.beat ?? 0) + 1;
      const tmp = join(lockPath, `${OWNER_FILE}.${randomBytes(4).toString('hex')}`);
      try {
        await writeFile(tmp, JSON.stringify(owner));
        await rename(tmp, join(lockPath, OWNER_FILE));
      } catch {
        await rm(tmp, { force: true }).catch(() => undefined);
      }
    };
    // A quarter of the stale limit leaves three missed beats of slack to a waiter on another host.
    const timer = setInterval(() => {
      beating = beating.then(beat).catch(() => undefined);
    }, Math.max(10, Math.floor(this.staleMs / 4)));
    // A lock must not keep a finished process alive: a holder that exits without releasing leaves a
    // dead pid behind, which the next acquirer breaks at once.
    timer.unref();
    let released: Promise<void> | undefined;
    return () => {
      released ??= (async () => {
        clearInterval(timer);
        await beating;
        if (!lost) await removeIfOwned(lockPath, owner.token, 'released');
      })();
      return released;
    };
  }
}

/** The owner record, 'missing' when there is no lock, undefined when a lock has no readable owner. */
async function readOwner(lockPath: string): Promise<LockOwner | 'missing' | undefined> {
  let text: string;
  try {
    text = await readFile(join(lockPath, OWNER_FILE), 'utf8');
  } catch (err) {
    if (!isCode(err, 'ENOENT') && !isCode(err, 'ENOTDIR')) return undefined;
    try {
      await readdir(lockPath);
      return undefined;
    } catch {
      return 'missing';
    }
  }
  try {
    const parsed = JSON.parse(text) as LockOwner;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the lock directory, provided it is still the holding identified by `token` (undefined: one
 * without an owner record). It is renamed aside first, then checked: if a new holder took the lock
 * between our look and the rename, its directory is put back.
 */
async function removeIfOwned(lockPath: string, token: string | undefined, tag: string): Promise<void> {
  const aside = `${lockPath}.${tag}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return;
    throw err;
  }
  const found = await readOwner(aside);
  const foundToken = typeof found === 'object' ? found.token : undefined;
  if (foundToken !== token) {
    const restored = await rename(aside, lockPath).then(() => true, () => false);
    if (restored) return;
  }
  await rm(aside, { recursive: true, force: true });
}

function breakLock(lockPath: string, token: string | undefined): Promise<void> {
  return removeIfOwned(lockPath, token, 'broken');
}
