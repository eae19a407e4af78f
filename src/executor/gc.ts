import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheStore } from './cache.js';
import type { CacheKey } from './fingerprint.js';
import { slurmJobsInFlight, type JobInFlight } from './executors/slurm-jobs-in-flight.js';
import { isCode } from './fs-removal.js';
import { HashMemo } from './hash-memo.js';
import { LiveRunsView, type LiveRunRecord } from './live-runs.js';
import { LockManager } from './lock.js';
import { isAlive } from './process-alive.js';
import { keysOfRun, readRuns } from './run-history.js';
import type { Workspace } from './workspace.js';

export interface GcOptions {
  /** Keep only the newest N runs (older run directories are deleted); all runs when undefined. */
  keep?: number;
  dryRun: boolean;
  locks?: LockManager;
  /** For the Slurm commands (their PATH); the process's environment when undefined. */
  env?: NodeJS.ProcessEnv;
}

export interface GcSkip {
  /** Run id, cache key or temp dir name. */
  what: string;
  /** Who uses it: `a running bdlab run uses it (pid N on HOST)`, `Slurm job 42 (RUNNING) still writes into it`. */
  because: string;
}

export interface GcReport {
  keptRuns: string[];
  removedRuns: string[];
  removedEntries: { key: CacheKey; bytes: number }[];
  keptEntries: number;
  removedTmp: string[];
  /** Runs, entries and temp dirs that would have been removed but a running `bdlab run` or Slurm job uses them. */
  skippedRuns: GcSkip[];
  skippedEntries: GcSkip[];
  skippedTmp: GcSkip[];
  freedBytes: number;
}

function describeUser(record: LiveRunRecord): string {
  return `a running bdlab run uses it (${record.owner ? `pid ${record.owner.pid} on ${record.owner.host}` : `registration ${record.token}`})`;
}


/**
 * Deletes cache entries that no kept run refers to (and, with `keep`, the older run directories),
 * plus what dead processes left behind (see sweepLeftovers). Never touches what a live run uses:
 * its run directory and every entry it has looked up (see live-runs.ts for the protocol); entries
 * created after gc started are left alone too, so a run filling the cache right now keeps them.
 */
export async function collectGarbage(ws: Workspace, opts: GcOptions): Promise<GcReport> {
  const started = Date.now();
  const locks = opts.locks ?? new LockManager(join(ws.cacheDir, 'locks'));
  // Order matters: runs are listed before live registrations are read, so a run that registers
  // after the read creates its directory after the listing too, and is not in the list.
  const runs = await readRuns(ws.runsDir);
  const live = new LiveRunsView(ws.cacheDir, locks, false);
  await live.refresh();
  // A head killed with kill -9 leaves its Slurm jobs running and registers nothing any more.
  const jobs = await slurmJobsInFlight(ws.scratchDir, opts.env);
  const jobOfKey = new Map(jobs.map((job) => [job.key, job]));

  const cut = opts.keep === undefined ? 0 : Math.max(0, runs.length - opts.keep);
  const skippedRuns: GcSkip[] = [];
  const kept = runs.slice(cut);
  const removedRuns = [];
  const referenced = new Set<string>();
  for (const run of kept) for (const key of keysOfRun(run)) referenced.add(key);
  // A run that would go but is still running stays, and so do the entries it uses: those are
  // reported as skipped (through its registration) rather than as kept.
  for (const run of runs.slice(0, cut)) {
    const user = live.userOfRunDir(run.dir);
    if (user) {
      skippedRuns.push({ what: run.id, because: describeUser(user) });
      kept.push(run);
    } else {
      removedRuns.push(run);
    }
  }

  const memo = await HashMemo.load(ws.hashMemoFile);
  const cache = new CacheStore(ws.cacheDir, ws.tmpDir, memo);
  const removedEntries: GcReport['removedEntries'] = [];
  const skippedEntries: GcSkip[] = [];
  let keptEntries = 0;
  let freed = 0;
  for (const key of await cache.listKeys()) {
    if (referenced.has(key)) {
      keptEntries += 1;
      continue;
    }
    const meta = await cache.readMeta(key);
    if (meta && Date.parse(meta.createdAt) >= started) {
      keptEntries += 1;
      continue;
    }
    await live.refresh();
    const user = live.userOfKey(key);
    const job = jobOfKey.get(key);
    if (user || job) {
      keptEntries += 1;
      skippedEntries.push({ what: key, because: user ? describeUser(user) : job!.describe });
      continue;
    }
    const dir = cache.entryDir(key);
    const bytes = await diskUsage(dir);
    if (opts.dryRun) {
      removedEntries.push({ key, bytes });
      freed += bytes;
      continue;
    }
    // Moved aside first (lookups miss from now on), then checked once more: a run that claimed the
    // entry between our check and the move gets it back.
    const aside = `${dir}.removing.${process.pid}.gc`;
    try {
      await rename(dir, aside);
    } catch (err) {
      if (isCode(err, 'ENOENT')) continue;
      throw err;
    }
    await live.refresh();
    const lateUser = live.userOfKey(key);
    if (lateUser && (await rename(aside, dir).then(() => true, () => false))) {
      keptEntries += 1;
      skippedEntries.push({ what: key, because: describeUser(lateUser) });
      continue;
    }
    await rm(aside, { recursive: true, force: true });
    memo.forgetUnder(dir);
    removedEntries.push({ key, bytes });
    freed += bytes;
  }
  for (const run of removedRuns) {
    freed += await diskUsage(run.dir);
    if (!opts.dryRun) await rm(run.dir, { recursive: true, force: true });
  }
  const leftovers = await sweepLeftovers(ws, locks, { dryRun: opts.dryRun, jobs });
  freed += leftovers.bytes;
  if (!opts.dryRun) await memo.save();
  return {
    keptRuns: kept.map((r) => r.id),
    removedRuns: removedRuns.map((r) => r.id),
    removedEntries,
    keptEntries,
    removedTmp: leftovers.removed,
    skippedRuns,
    skippedEntries,
    skippedTmp: leftovers.skipped,
    freedBytes: freed,
  };
}

/** A leftover's owning pid from its name, for the name patterns bdlab uses; undefined otherwise. */
function ownerPidOf(name: string): number | undefined {
  const match =
    /^[0-9a-f]{64}\.(\d+)\.[0-9a-f]+$/.exec(name) ?? // pending entry in tmp/: <key>.<pid>.<random>
    /\.(?:removing|broken|released|incoming|new)\.(\d+)\.[0-9a-z]+$/.exec(name); // moved aside, being copied in, or a lock being created
  return match ? Number(match[1]) : undefined;
}

/**
 * Removes what killed processes left behind: pending entries in tmp/, half-deleted entries
 * (`*.removing.<pid>.*`), half-copied entries of a cache on another filesystem
 * (`.<key>.incoming.<pid>.*`), lock directories of dead holders, and staging or broken lock
 * directories. Only what belongs to a process that no longer exists on this host is touched. Runs
 * call this at their start; `gc` too. Training checkpoints (scratch/) are kept on purpose: they
 * are how a killed training resumes. A pending entry of a dead head whose Slurm job is still queued
 * or running, or that finished with a result not adopted yet, is kept too (a rerun adopts the job): `jobs` lists them, found
 * from the job records in scratch/ when not given.
 */
export async function sweepLeftovers(
  ws: Workspace,
  locks: LockManager,
  opts: { dryRun?: boolean; jobs?: JobInFlight[] } = {},
): Promise<{ removed: string[]; skipped: GcSkip[]; bytes: number }> {
  const dryRun = opts.dryRun ?? false;
  const liveRuns = new LiveRunsView(ws.cacheDir, locks, !dryRun);
  await liveRuns.refresh();
  const removed: string[] = [...liveRuns.removed];
  const skipped: GcSkip[] = [];
  let jobs = opts.jobs;
  let bytes = 0;
  const sweep = async (dir: string, name: string): Promise<void> => {
    const pid = ownerPidOf(name);
    if (pid === undefined || isAlive(pid)) return;
    const path = join(dir, name);
    jobs ??= await slurmJobsInFlight(ws.scratchDir);
    const job = jobs.find((j) => j.pendingDir === path);
    if (job) {
      skipped.push({ what: name, because: job.describe });
      return;
    }
    bytes += await diskUsage(path);
    removed.push(name);
    if (!dryRun) await rm(path, { recursive: true, force: true });
  };
  for (const name of await readdir(ws.tmpDir).catch(() => [] as string[])) await sweep(ws.tmpDir, name);
  for (const prefix of await readdir(ws.cacheDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const name of await readdir(join(ws.cacheDir, prefix)).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{64}$/.test(name)) await sweep(join(ws.cacheDir, prefix), name);
    }
  }
  for (const name of await readdir(locks.locksDir).catch(() => [] as string[])) {
    if (name.endsWith('.lock') && !name.startsWith('.')) {
      const lockName = name.slice(0, -'.lock'.length);
      const state = await locks.inspect(lockName);
      if (state.state === 'dead') {
        removed.push(name);
        if (!dryRun) await locks.breakIfDead(lockName);
      }
    } else {
      await sweep(locks.locksDir, name);
    }
  }
  return { removed, skipped, bytes };
}

/** Bytes of regular files below `path`; symlinks are not followed (a run's outputs link into the cache). */
async function diskUsage(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 0;
  if (st.isFile()) return st.size;
  if (!st.isDirectory()) return 0;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await diskUsage(join(path, name));
  return total;
}
