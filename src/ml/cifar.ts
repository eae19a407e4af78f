import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputFileError, readRegularFile } from '../common/read-bounded.js';
import { CIFAR10_FILE_BYTES } from './checksums.js';
import { CIFAR10_CLASSES, type ImageSet } from './dataset.js';

/**
 * The CIFAR-10 binary format: each record is one label byte followed by 1024 red, 1024 green and
 * 1024 blue bytes, each plane row-major 32x32. bdlab stores NHWC, so parsing interleaves the planes.
 */

export const CIFAR_SIDE = 32;
export const CIFAR_CHANNELS = 3;
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_RECORD_BYTES = 1 + CIFAR_PIXELS * CIFAR_CHANNELS;
export const CIFAR_DIRECTORY = 'cifar-10-batches-bin';
export const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'] as const;
export const CIFAR_TEST_FILE = 'test_batch.bin';
export const CIFAR_DATA_FILES = [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE] as const;
export const CIFAR_META_FILE = 'batches.meta.txt';

export class CifarFormatError extends Error {
  override readonly name = 'CifarFormatError';
}

function recordCount(bytes: Uint8Array, source: string): number {
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD_BYTES !== 0) {
    throw new CifarFormatError(
      `${source} has ${bytes.length} bytes, which is not a whole number of CIFAR-10 records ` +
        `(${CIFAR_RECORD_BYTES} bytes each: 1 label byte + 3 colour planes of 32x32).`,
    );
  }
  return bytes.length / CIFAR_RECORD_BYTES;
}

/** Decodes all records of `input` into images/labels starting at image `first` (no intermediate copies). */
function decodeInto(input: Uint8Array, source: string, numClasses: number, images: Uint8Array, labels: Uint8Array, first: number): void {
  // A plain Uint8Array view keeps the hot loop monomorphic even when callers pass Node Buffers.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const count = recordCount(bytes, source);
  for (let n = 0; n < count; n++) {
    const record = n * CIFAR_RECORD_BYTES;
    const label = bytes[record]!;
    if (label >= numClasses) {
      throw new CifarFormatError(`${source}: record ${n} has label ${label}; CIFAR-10 labels are 0..${numClasses - 1}.`);
    }
    labels[first + n] = label;
    // Sequential writes, three sequential read streams: much faster than a plane-by-plane scatter.
    let out = (first + n) * CIFAR_PIXELS * CIFAR_CHANNELS;
    const red = record + 1;
    const green = red + CIFAR_PIXELS;
    const blue = green + CIFAR_PIXELS;
    for (let p = 0; p < CIFAR_PIXELS; p++) {
      images[out++] = bytes[red + p]!;
      images[out++] = bytes[green + p]!;
      images[out++] = bytes[blue + p]!;
    }
  }
}

/** Parses batch files' bytes, in order, into one NHWC ImageSet; `sources` name the files in errors. */
export function parseCifarBatches(batches: Uint8Array[], sources: string[] = [], numClasses = 10): ImageSet {
  const counts = batches.map((b, i) => recordCount(b, sources[i] ?? `CIFAR batch ${i + 1}`));
  const count = counts.reduce((a, b) => a + b, 0);
  const labels = new Uint8Array(count);
  const images = new Uint8Array(count * CIFAR_PIXELS * CIFAR_CHANNELS);
  let first = 0;
  batches.forEach((b, i) => {
    decodeInto(b, sources[i] ?? `CIFAR batch ${i + 1}`, numClasses, images, labels, first);
    first += counts[i]!;
  });
  return { images, labels, count, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: CIFAR_CHANNELS };
}

/** Parses one batch file's bytes into an NHWC ImageSet; `source` names the file in errors. */
export function parseCifarBatch(bytes: Uint8Array, source = 'CIFAR batch', numClasses = 10): ImageSet {
  return parseCifarBatches([bytes], [source], numClasses);
}

/** The inverse of parseCifarBatch: NHWC 32x32x3 images to CIFAR-10 binary records. */
export function encodeCifarBatch(set: ImageSet): Uint8Array {
  if (set.height !== CIFAR_SIDE || set.width !== CIFAR_SIDE || set.channels !== CIFAR_CHANNELS) {
    throw new CifarFormatError(`only 32x32x3 images can be written as CIFAR-10 records, got ${set.height}x${set.width}x${set.channels}`);
  }
  const bytes = new Uint8Array(set.count * CIFAR_RECORD_BYTES);
  for (let n = 0; n < set.count; n++) {
    const record = n * CIFAR_RECORD_BYTES;
    bytes[record] = set.labels[n]!;
    const src = n * CIFAR_PIXELS * CIFAR_CHANNELS;
    for (let c = 0; c < CIFAR_CHANNELS; c++) {
      const plane = record + 1 + c * CIFAR_PIXELS;
      for (let p = 0; p < CIFAR_PIXELS; p++) bytes[plane + p] = set.images[src + p * CIFAR_CHANNELS + c]!;
    }
  }
  return bytes;
}

/** Class names from batches.meta.txt (one per line, trailing blank lines ignored). */
export function parseBatchesMeta(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

export interface CifarData {
  train: ImageSet;
  test: ImageSet;
  classes: string[];
}

/**
 * Builds train/test from the raw contents of the six batch files (and the optional meta text),
 * e.g. as streamed out of the tarball. `files` maps base file names to their bytes.
 */
export function cifarFromFiles(files: ReadonlyMap<string, Uint8Array>, metaText?: string): CifarData {
  const get = (name: string): Uint8Array => {
    const bytes = files.get(name);
    if (!bytes) throw new CifarFormatError(`CIFAR-10 data is missing ${name} (expected ${CIFAR_DATA_FILES.join(', ')}).`);
    return bytes;
  };
  const train = parseCifarBatches(CIFAR_TRAIN_FILES.map(get), [...CIFAR_TRAIN_FILES]);
  const test = parseCifarBatch(get(CIFAR_TEST_FILE), CIFAR_TEST_FILE);
  const fromMeta = metaText === undefined ? [] : parseBatchesMeta(metaText);
  return { train, test, classes: fromMeta.length === 10 ? fromMeta : [...CIFAR10_CLASSES] };
}

/** A regular file of at most `maxBytes` (a device or FIFO in a data directory must not hang a read). */
async function readBounded(path: string, maxBytes: number): Promise<Buffer> {
  try {
    return await readRegularFile(path, maxBytes);
  } catch (error) {
    if (error instanceof InputFileError) throw new CifarFormatError(`${path} cannot be read as CIFAR-10 data: ${error.message}.`);
    throw error;
  }
}

/** Reads an extracted `cifar-10-batches-bin` directory. */
export async function readCifarDirectory(dir: string): Promise<CifarData> {
  const files = new Map<string, Uint8Array>();
  for (const name of CIFAR_DATA_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) throw new CifarFormatError(`CIFAR-10 directory ${dir} has no ${name} (expected ${CIFAR_DATA_FILES.join(', ')}).`);
    files.set(name, new Uint8Array(await readBounded(path, CIFAR10_FILE_BYTES)));
  }
  const metaPath = join(dir, CIFAR_META_FILE);
  const metaText = existsSync(metaPath) ? (await readBounded(metaPath, 64 * 1024)).toString('utf8') : undefined;
  return cifarFromFiles(files, metaText);
}
