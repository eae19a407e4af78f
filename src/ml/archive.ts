import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { irregularKind } from '../common/read-bounded.js';

/**
 * Safe reading of (gzipped) tar archives. Downloaded archives are untrusted: an entry may try to
 * escape the target directory (`../x`, `/etc/x`) or plant a link or device. Any such entry makes the
 * whole archive rejected, before anything reaches the final location.
 */

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

const SAFE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/** Far above the 170 MB CIFAR-10 tarball; a bigger file is not a dataset archive bdlab reads. */
export const DEFAULT_MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024;
/** Far above CIFAR-10's 185 MB of unpacked members. */
export const DEFAULT_MAX_UNPACKED_BYTES = 4 * 1024 * 1024 * 1024;

/** Why this entry is unsafe, or null when it is a plain file or directory with a relative, contained path. */
export function unsafeEntryReason(path: string, type: string): string | null {
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) return 'has an absolute path';
  if (path.split(/[\\/]+/).includes('..')) return "contains a '..' path segment";
  if (path.includes('\0')) return 'contains a NUL byte';
  if (!SAFE_TYPES.has(type)) return `is a ${type} entry (only regular files and directories are allowed)`;
  return null;
}

/** Normalises `./a//b/` to `a/b` for matching. */
function cleanPath(path: string): string {
  return path.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

export interface ArchiveProgress {
  compressedBytesRead: number;
  compressedBytesTotal: number;
}

export interface ArchiveReadOptions {
  /** Which file entries to keep (by cleaned path); all others are validated and skipped. */
  wanted: (path: string) => boolean;
  /** Largest archive file accepted (compressed bytes); default DEFAULT_MAX_ARCHIVE_BYTES. */
  maxArchiveBytes?: number;
  /** Largest size of a kept entry, checked against its header before anything is allocated. */
  maxEntryBytes?: (path: string) => number;
  /**
   * Most bytes all entries together may declare, kept or not: bounds the time spent on a gzip bomb
   * of skipped entries. Default DEFAULT_MAX_UNPACKED_BYTES.
   */
  maxUnpackedBytes?: number;
  /** Called for each kept file once its content is complete; the default collects them in memory. */
  onFile?: (path: string, content: Buffer) => void | Promise<void>;
  onProgress?: (p: ArchiveProgress) => void;
  signal?: AbortSignal;
}

/**
 * Streams a .tar or .tar.gz (compression auto-detected) and hands over the wanted regular files.
 * Every entry — wanted or not — is checked; the first unsafe one aborts with an ArchiveError
 * naming the archive and the entry.
 */
export async function readArchiveFiles(archive: string, options: ArchiveReadOptions): Promise<Map<string, Buffer>> {
  // Opened without blocking and checked first: a FIFO or a symlink to /dev/zero would never end.
  const handle = await open(archive, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  let total: number;
  try {
    const st = await handle.stat();
    const kind = irregularKind(st);
    if (kind) throw new ArchiveError(`Cannot read ${archive}: it is ${kind}, not a regular file; put the archive itself in the data path.`);
    const limit = options.maxArchiveBytes ?? DEFAULT_MAX_ARCHIVE_BYTES;
    if (st.size > limit) throw new ArchiveError(`Cannot read ${archive}: it has ${st.size} bytes, more than the ${limit} bytes a dataset archive may have.`);
    total = st.size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  const maxUnpacked = options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES;
  let declared = 0;
  const collected = new Map<string, Buffer>();
  const pendingWrites: Promise<void>[] = [];
  let failure: Error | undefined;

  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      const path = cleanPath(entry.path);
      const reason = unsafeEntryReason(entry.path, entry.type);
      if (reason) {
        failure ??= new ArchiveError(
          `Refusing to extract ${archive}: entry '${entry.path}' ${reason}. ` +
            'A trustworthy dataset archive only holds regular files below its own directory; get a fresh copy of the archive.',
        );
        entry.resume();
        parser.abort(failure);
        return;
      }
      declared += entry.size;
      if (declared > maxUnpacked) {
        failure ??= new ArchiveError(`Refusing to read ${archive}: its entries declare more than ${maxUnpacked} bytes in all (at '${entry.path}'); that is no dataset archive bdlab reads.`);
        entry.resume();
        parser.abort(failure);
        return;
      }
      if (entry.type === 'Directory' || !options.wanted(path)) {
        entry.resume();
        return;
      }
      const maxEntry = options.maxEntryBytes?.(path);
      if (maxEntry !== undefined && entry.size > maxEntry) {
        failure ??= new ArchiveError(`Refusing to read ${archive}: entry '${entry.path}' declares ${entry.size} bytes, more than the ${maxEntry} bytes such a file has.`);
        entry.resume();
        parser.abort(failure);
        return;
      }
      // The header states the size, so one allocation and no concat of a 30 MB member.
      const content = Buffer.allocUnsafe(entry.size);
      let filled = 0;
      entry.on('data', (chunk: Buffer) => {
        chunk.copy(content, filled);
        filled += chunk.length;
      });
      entry.on('end', () => {
        if (filled !== entry.size) {
          failure ??= new ArchiveError(`Cannot read ${archive}: entry '${entry.path}' holds ${filled} of its ${entry.size} bytes; the archive is truncated or corrupt.`);
          return;
        }
        if (options.onFile) pendingWrites.push(Promise.resolve(options.onFile(path, content)));
        else collected.set(path, content);
      });
    },
  });

  const source = handle.createReadStream();
  let read = 0;
  source.on('data', (chunk) => {
    read += chunk.length;
    options.onProgress?.({ compressedBytesRead: read, compressedBytesTotal: total });
  });
  try {
    await pipeline(source, parser, { signal: options.signal });
  } catch (error) {
    // Let in-flight writes settle so a caller cleaning up a staging directory does not race them.
    await Promise.allSettled(pendingWrites);
    if (failure) throw failure;
    if (error instanceof Error && error.name === 'AbortError') throw error;
    const text = error instanceof Error ? error.message : String(error);
    throw new ArchiveError(`Cannot read ${archive} as a tar(.gz) archive: ${text}. The file is probably truncated or corrupt; download it again.`);
  }
  await Promise.allSettled(pendingWrites);
  if (failure) throw failure;
  await Promise.all(pendingWrites);
  return collected;
}

/**
 * Extracts the wanted files of an archive into `destDir`, which must not exist yet. Files go into
 * a temporary sibling directory first and are renamed into place only after the whole archive
 * was read and found safe, so a hostile or broken archive never leaves a partial `destDir`.
 */
export async function extractArchiveSafely(
  archive: string,
  destDir: string,
  options: Omit<ArchiveReadOptions, 'onFile'> = { wanted: () => true },
): Promise<string[]> {
  const staging = join(dirname(destDir), `.partial-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  const written: string[] = [];
  try {
    await readArchiveFiles(archive, {
      ...options,
      onFile: async (path, content) => {
        const target = join(staging, path);
        await mkdir(dirname(target), { recursive: true });
        await pipeline(async function* () { yield content; }, createWriteStream(target, { flags: 'wx' }));
        written.push(path);
      },
    });
    await rename(staging, destDir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return written.sort();
}
