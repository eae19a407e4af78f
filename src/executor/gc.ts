import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheStore } from './cache.js';
import type { CacheKey } from './fingerprint.js';
import { HashMemo } from './hash-memo.js';
import { isAlive } from './process-alive.js';
import { keysOfRun, readRuns } from './run-history.js';
import type { Workspace } from './workspace.js';

export interface GcOptions {
  /** Keep only the newest N runs (older run directories are deleted); all runs when undefined. */
  keep?: number;
  dryRun: boolean;
}

export interface GcReport {
  keptRuns: string[];
  removedRuns: string[];
  removedEntries: { key: CacheKey; bytes: number }[];
  keptEntries: number;
  removedTmp: string[];
  freedBytes: number;
}

/**
 * Deletes cache entries that no kept run refers to (and, with `keep`, the older run directories),
 * plus temp dirs and half-deleted entries of dead processes. Entries created after gc started are left alone, so a run
 * that is filling the cache right now doesn't lose its fresh entries.
 */
export async function collectGarbage(ws: Workspace, opts: GcOptions): Promise<GcReport> {
  const started = Date.now();
  const runs = await readRuns(ws.runsDir);
  const cut = opts.keep === undefined ? 0 : Math.max(0, runs.length - opts.keep);
  const kept = runs.slice(cut);
  const removedRuns = runs.slice(0, cut);
  const referenced = new Set<string>();
  for (const run of kept) for (const key of keysOfRun(run)) referenced.add(key);

  const memo = await HashMemo.load(ws.hashMemoFile);
  const cache = new CacheStore(ws.cacheDir, ws.tmpDir, memo);
  const removedEntries: GcReport['removedEntries'] = [];
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
    const bytes = await diskUsage(cache.entryDir(key));
    removedEntries.push({ key, bytes });
    freed += bytes;
    if (!opts.dryRun) await cache.remove(key);
  }
  for (const run of removedRuns) {
    freed += await diskUsage(run.dir);
    if (!opts.dryRun) await rm(run.dir, { recursive: true, force: true });
  }
  const removedTmp: string[] = [];
  for (const name of await readdir(ws.tmpDir).catch(() => [] as string[])) {
    const pid = Number(/^[0-9a-f]{64}\.(\d+)\./.exec(name)?.[1] ?? NaN);
    if (!Number.isFinite(pid) || isAlive(pid)) continue;
    const dir = join(ws.tmpDir, name);
    freed += await diskUsage(dir);
    removedTmp.push(name);
    if (!opts.dryRun) await rm(dir, { recursive: true, force: true });
  }
  // Half-deleted entries (`<key>.removing.<pid>.*`) of processes killed while deleting.
  for (const prefix of await readdir(ws.cacheDir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    for (const name of await readdir(join(ws.cacheDir, prefix)).catch(() => [] as string[])) {
      const pid = Number(/\.removing\.(\d+)\./.exec(name)?.[1] ?? NaN);
      if (!Number.isFinite(pid) || isAlive(pid)) continue;
      const dir = join(ws.cacheDir, prefix, name);
      freed += await diskUsage(dir);
      removedTmp.push(name);
      if (!opts.dryRun) await rm(dir, { recursive: true, force: true });
    }
  }
  if (!opts.dryRun) await memo.save();
  return { keptRuns: kept.map((r) => r.id), removedRuns: removedRuns.map((r) => r.id), removedEntries, keptEntries, removedTmp, freedBytes: freed };
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
