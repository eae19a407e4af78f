import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../common/json.js';
import type { BackendInfo } from './events.js';
import type { CacheKey, ContentHash } from './fingerprint.js';
import type { HashMemo } from './hash-memo.js';
import { hashTree, type TreeFile } from './tree-hash.js';
import { isCode, removeByRenamingAside } from './fs-removal.js';

/** `entry.json`: written last inside the temp dir, so an entry that exists is complete. */
export interface CacheEntryMeta {
  key: CacheKey;
  contentHash: ContentHash;
  files: TreeFile[];
  createdAt: string;
  /** For humans browsing the cache; not part of any key. */
  kind: string;
  instance: string;
  metrics?: JsonObject;
  /** The TF.js backend the stage reported when it built this entry. */
  backend?: BackendInfo;
  /** How long building took, for `bdlab show` of later cached runs. */
  durationMs?: number;
}

export interface CacheEntry {
  key: CacheKey;
  dir: string;
  outputsDir: string;
  meta: CacheEntryMeta;
}

export type CacheLookup =
  | { status: 'hit'; entry: CacheEntry }
  | { status: 'miss' }
  | { status: 'corrupt'; reason: string };

/** A directory a stage may fill; becomes a cache entry only through `commit`. */
export interface PendingEntry {
  key: CacheKey;
  dir: string;
  outputsDir: string;
}

export const ENTRY_FILE = 'entry.json';
export const ENTRY_LOG = 'log.txt';

/**
 * Content-addressed, content-verified store: `<cacheDir>/<key[0:2]>/<key>/{outputs/,entry.json,log.txt}`.
 * Entries appear only by an atomic rename of a finished temp dir and are verified against their
 * recorded file hashes on every read, so a partial write or a later edit is never served.
 */
export class CacheStore {
  constructor(
    readonly cacheDir: string,
    private readonly tmpDir: string,
    private readonly memo: HashMemo,
  ) {}

  entryDir(key: CacheKey): string {
    return join(this.cacheDir, key.slice(0, 2), key);
  }

  async lookup(key: CacheKey): Promise<CacheLookup> {
    const dir = this.entryDir(key);
    let raw: string;
    try {
      raw = await readFile(join(dir, ENTRY_FILE), 'utf8');
    } catch (err) {
      if (isCode(err, 'ENOENT')) {
        return (await exists(dir)) ? { status: 'corrupt', reason: `${ENTRY_FILE} is missing` } : { status: 'miss' };
      }
      throw err;
    }
    let meta: CacheEntryMeta;
    try {
      meta = JSON.parse(raw) as CacheEntryMeta;
    } catch {
      return { status: 'corrupt', reason: `${ENTRY_FILE} is not valid JSON` };
    }
    if (meta.key !== key || !Array.isArray(meta.files)) return { status: 'corrupt', reason: `${ENTRY_FILE} does not describe this key` };
    const outputsDir = join(dir, 'outputs');
    let actual;
    try {
      actual = await hashTree(outputsDir, this.memo);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return { status: 'corrupt', reason: 'outputs/ is missing' };
      throw err;
    }
    if (actual.contentHash !== meta.contentHash) return { status: 'corrupt', reason: describeDifference(meta.files, actual.files) };
    return { status: 'hit', entry: { key, dir, outputsDir, meta } };
  }

  /** Reads an entry's metadata without verifying content (listing, gc). */
  async readMeta(key: CacheKey): Promise<CacheEntryMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.entryDir(key), ENTRY_FILE), 'utf8')) as CacheEntryMeta;
    } catch {
      return undefined;
    }
  }

  async createPending(key: CacheKey): Promise<PendingEntry> {
    const dir = join(this.tmpDir, `${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const outputsDir = join(dir, 'outputs');
    await mkdir(outputsDir, { recursive: true });
    return { key, dir, outputsDir };
  }

  async discard(pending: PendingEntry): Promise<void> {
    await rm(pending.dir, { recursive: true, force: true });
  }

  /**
   * Hashes the finished outputs, writes entry.json, and renames the whole directory into place.
   * An existing entry for the key (corrupt, or being rebuilt with --force) is moved aside first.
   */
  async commit(
    pending: PendingEntry,
    info: { kind: string; instance: string; metrics?: JsonObject; logFile?: string; backend?: BackendInfo; durationMs?: number },
  ): Promise<CacheEntry> {
    const finalDir = this.entryDir(pending.key);
    const finalOutputs = join(finalDir, 'outputs');
    // Memo records are filed under the final paths: renaming the parent keeps inode and times.
    const tree = await hashTree(pending.outputsDir, this.memo, (rel) => join(finalOutputs, rel));
    const meta: CacheEntryMeta = {
      key: pending.key,
      contentHash: tree.contentHash,
      files: tree.files,
      createdAt: new Date().toISOString(),
      kind: info.kind,
      instance: info.instance,
      ...(info.metrics ? { metrics: info.metrics } : {}),
      ...(info.backend ? { backend: info.backend } : {}),
      ...(info.durationMs !== undefined ? { durationMs: info.durationMs } : {}),
    };
    if (info.logFile) await cp(info.logFile, join(pending.dir, ENTRY_LOG)).catch(() => undefined);
    await writeFile(join(pending.dir, ENTRY_FILE), JSON.stringify(meta, null, 2) + '\n');
    await mkdir(join(this.cacheDir, pending.key.slice(0, 2)), { recursive: true });
    await removeByRenamingAside(finalDir, 'removing');
    try {
      await rename(pending.dir, finalDir);
    } catch (err) {
      if (!isCode(err, 'EXDEV')) throw err;
      // Cache on another filesystem: copy next to the entry, then rename within that filesystem.
      // The pid in the name lets a later run remove the copy if this process dies half-way.
      const incoming = join(this.cacheDir, pending.key.slice(0, 2), `.${pending.key}.incoming.${process.pid}.${randomBytes(4).toString('hex')}`);
      try {
        await cp(pending.dir, incoming, { recursive: true, preserveTimestamps: true });
        await rename(incoming, finalDir);
      } catch (copyErr) {
        // E.g. ENOSPC: no half-copied directory stays behind.
        await rm(incoming, { recursive: true, force: true }).catch(() => undefined);
        throw copyErr;
      }
      await rm(pending.dir, { recursive: true, force: true });
      this.memo.forgetUnder(finalOutputs);
      await hashTree(finalOutputs, this.memo);
    }
    return { key: pending.key, dir: finalDir, outputsDir: finalOutputs, meta };
  }

  async remove(key: CacheKey): Promise<void> {
    await removeByRenamingAside(this.entryDir(key), 'removing');
    this.memo.forgetUnder(this.entryDir(key));
  }

  /** Every entry directory in the store (valid or not). */
  async listKeys(): Promise<CacheKey[]> {
    const keys: CacheKey[] = [];
    for (const prefix of await readdir(this.cacheDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(join(this.cacheDir, prefix)).catch(() => [] as string[])) {
        if (/^[0-9a-f]{64}$/.test(name) && name.startsWith(prefix)) keys.push(name as CacheKey);
      }
    }
    return keys.sort();
  }

}

function describeDifference(expected: TreeFile[], actual: TreeFile[]): string {
  const byPath = new Map(actual.map((f) => [f.path, f]));
  for (const f of expected) {
    const a = byPath.get(f.path);
    if (!a) return `outputs/${f.path} is missing`;
    if (a.size !== f.size) return `outputs/${f.path} changed size (${f.size} -> ${a.size} bytes)`;
    if (a.sha256 !== f.sha256) return `outputs/${f.path} changed content (sha256 mismatch)`;
    byPath.delete(f.path);
  }
  const extra = [...byPath.keys()][0];
  return extra ? `unexpected file outputs/${extra}` : 'content hash mismatch';
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

