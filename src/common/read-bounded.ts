import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Reading input files that may not be what their name says: a FIFO without a writer blocks forever,
 * `/dev/zero` never ends, a multi-gigabyte file exhausts memory. Files are opened without blocking,
 * checked to be regular files (after following symlinks) of an allowed size, and only then read.
 */

export class InputFileError extends Error {
  override readonly name = 'InputFileError';
}

/** `a named pipe (FIFO)`, `a character device`, ... for messages; undefined for a regular file. */
export function irregularKind(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Human size: 30.7 MB, 64 MiB limits are stated in bytes as well so nothing is lost in rounding. */
function bytes(n: number): string {
  return n >= 1e6 ? `${n} bytes (${(n / 1e6).toFixed(1)} MB)` : `${n} bytes`;
}

/**
 * The content of `path`, which must be a regular file of at most `maxBytes`. Throws InputFileError
 * with a one-line reason (no path; callers add it with what the file is for) otherwise.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Buffer> {
  const { handle, size } = await openRegularFile(path, maxBytes);
  try {
    const content = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(content, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === size ? content : content.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/** Opens `path` without blocking and checks it is a regular file of at most `maxBytes`; the caller closes the handle. */
async function openRegularFile(path: string, maxBytes: number): Promise<{ handle: FileHandle; size: number }> {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = await handle.stat();
    const kind = irregularKind(st);
    if (kind) throw new InputFileError(`it is ${kind}, not a regular file`);
    if (st.size > maxBytes) throw new InputFileError(`it has ${bytes(st.size)}, more than the ${bytes(maxBytes)} allowed`);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Checks without reading: `path` is a regular file of at most `maxBytes` (never blocks on a FIFO). */
export async function checkRegularFile(path: string, maxBytes: number): Promise<number> {
  const { handle, size } = await openRegularFile(path, maxBytes);
  await handle.close();
  return size;
}
