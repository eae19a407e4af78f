import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentHash } from './fingerprint.js';
import type { HashMemo } from './hash-memo.js';

export interface TreeFile {
  /** Relative, `/`-separated. */
  path: string;
  size: number;
  sha256: string;
}

export interface TreeHash {
  contentHash: ContentHash;
  files: TreeFile[];
}

/** Files below this size are read in one go; larger ones are streamed so memory stays flat. */
const STREAM_THRESHOLD = 4 * 1024 * 1024;

/**
 * The content hash of a directory: sha256 over `path NUL size NUL sha256 LF` for every file in
 * sorted path order. Empty directories don't count (they carry no data); a symlink counts as its
 * target text, marked so it can't collide with a file holding the same text.
 * `memoPathOf` maps a file to the path under which the memo knows it (the final cache location
 * when hashing a tree that is about to be renamed there).
 */
export async function hashTree(root: string, memo?: HashMemo, memoPathOf?: (rel: string) => string): Promise<TreeHash> {
  const files: TreeFile[] = [];
  await walk(root, '', files, memo, memoPathOf ?? ((rel) => join(root, rel)));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { contentHash: contentHashOf(files), files };
}

export function contentHashOf(files: readonly TreeFile[]): ContentHash {
  const h = createHash('sha256');
  for (const f of files) h.update(`${f.path}\0${f.size}\0${f.sha256}\n`);
  return h.digest('hex') as ContentHash;
}

async function walk(dir: string, rel: string, out: TreeFile[], memo: HashMemo | undefined, memoPathOf: (rel: string) => string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const abs = join(dir, entry.name);
    const relPath = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      await walk(abs, relPath, out, memo, memoPathOf);
    } else if (entry.isSymbolicLink()) {
      const target = await readlink(abs);
      out.push({ path: relPath, size: Buffer.byteLength(target), sha256: sha256Of(Buffer.from(`symlink:${target}`)) });
    } else if (entry.isFile()) {
      const stat = await lstat(abs);
      const memoPath = memoPathOf(relPath);
      let sha = memo?.lookup(memoPath, stat);
      if (!sha) {
        sha = await hashFile(abs, stat.size);
        memo?.remember(memoPath, stat, sha);
      }
      out.push({ path: relPath, size: stat.size, sha256: sha });
    }
  }
}

export async function hashFile(path: string, size: number): Promise<string> {
  if (size < STREAM_THRESHOLD) return sha256Of(await readFile(path));
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

function sha256Of(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
