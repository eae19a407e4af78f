import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname } from 'node:path';

interface MemoRecord {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: string;
}

/**
 * Remembers file hashes by (path, size, mtime, ctime, inode) so that verifying an unchanged cache
 * entry costs one stat per file instead of reading it. Any write to the file changes mtime/ctime,
 * so a modified file is always re-hashed. The memo is only an accelerator: losing it, or two
 * runs overwriting each other's copy, costs time but never correctness.
 */
export class HashMemo {
  private records = new Map<string, MemoRecord>();
  private dirty = false;

  private constructor(private readonly file: string) {}

  static async load(file: string): Promise<HashMemo> {
    const memo = new HashMemo(file);
    memo.records = await readRecords(file);
    return memo;
  }

  lookup(path: string, stat: Stats): string | undefined {
    const r = this.records.get(path);
    if (!r) return undefined;
    const same = r.size === stat.size && r.mtimeMs === stat.mtimeMs && r.ctimeMs === stat.ctimeMs && r.ino === stat.ino;
    return same ? r.sha256 : undefined;
  }

  remember(path: string, stat: Stats, sha256: string): void {
    this.records.set(path, { size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, sha256 });
    this.dirty = true;
  }

  /** Drops every record under `prefix` (a deleted cache entry). */
  forgetUnder(prefix: string): void {
    for (const path of this.records.keys()) {
      if (path.startsWith(prefix)) {
        this.records.delete(path);
        this.dirty = true;
      }
    }
  }

  /** Merges with whatever another process saved meanwhile, then replaces the file atomically. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const onDisk = await readRecords(this.file);
    for (const [path, record] of this.records) onDisk.set(path, record);
    this.records = onDisk;
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, JSON.stringify(Object.fromEntries(onDisk)));
    await rename(tmp, this.file);
    this.dirty = false;
  }

  paths(): string[] {
    return [...this.records.keys()];
  }
}

async function readRecords(file: string): Promise<Map<string, MemoRecord>> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return new Map(Object.entries(parsed as Record<string, MemoRecord>));
    }
  } catch {
    // A missing or torn memo is just an empty memo.
  }
  return new Map();
}
