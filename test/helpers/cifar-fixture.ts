import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CIFAR_DIRECTORY, CIFAR_META_FILE, CIFAR_RECORD_BYTES, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES,
} from '../../src/ml/cifar.js';
import { CIFAR10_CLASSES } from '../../src/ml/dataset.js';
import type { JsonObject } from '../../src/common/json.js';
import type { StageContext, StageInput, StageProgress } from '../../src/common/stage-contract.js';

/**
 * Tiny CIFAR-10-format fixtures for tests of every area: batch files with a known, checkable
 * content, the `cifar-10-batches-bin/` layout, and (hostile or benign) tar.gz archives.
 */

/**
 * The byte of image `n`, channel `c`, pixel `p` in a fixture batch: distinct per channel so a
 * plane-order bug shows up, varying with pixel and image so offsets are checked too.
 */
export function fixturePixel(n: number, c: number, p: number): number {
  return (c * 80 + p * 7 + n * 13) % 256;
}

/** One batch of `labels.length` records, labels as given, pixels from fixturePixel offset by `firstImage`. */
export function makeCifarBatchBytes(labels: number[], firstImage = 0): Uint8Array {
  const bytes = new Uint8Array(labels.length * CIFAR_RECORD_BYTES);
  labels.forEach((label, i) => {
    const record = i * CIFAR_RECORD_BYTES;
    bytes[record] = label;
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) bytes[record + 1 + c * 1024 + p] = fixturePixel(firstImage + i, c, p);
    }
  });
  return bytes;
}

export interface CifarFixture {
  /** base file name -> bytes, for the six data files plus batches.meta.txt. */
  files: Map<string, Uint8Array>;
  trainLabels: number[];
  testLabels: number[];
}

/** Labels cycle through classes with a per-file offset; `perBatch` records in each batch file. */
export function makeCifarFixture(perBatch = 4, testCount = 6): CifarFixture {
  const files = new Map<string, Uint8Array>();
  const trainLabels: number[] = [];
  CIFAR_TRAIN_FILES.forEach((name, b) => {
    const labels = Array.from({ length: perBatch }, (_, i) => (i * 3 + b) % 10);
    files.set(name, makeCifarBatchBytes(labels, trainLabels.length));
    trainLabels.push(...labels);
  });
  const testLabels = Array.from({ length: testCount }, (_, i) => (9 - i + 10) % 10);
  files.set(CIFAR_TEST_FILE, makeCifarBatchBytes(testLabels, 0));
  files.set(CIFAR_META_FILE, new TextEncoder().encode(CIFAR10_CLASSES.join('\n') + '\n\n'));
  return { files, trainLabels, testLabels };
}

/** Writes the fixture as `<root>/cifar-10-batches-bin/*`; returns that directory. */
export async function writeCifarFixtureDirectory(root: string, fixture: CifarFixture): Promise<string> {
  const dir = join(root, CIFAR_DIRECTORY);
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of fixture.files) await writeFile(join(dir, name), bytes);
  return dir;
}

export interface TarEntrySpec {
  path: string;
  type?: 'file' | 'directory' | 'symlink' | 'hardlink' | 'chardev';
  content?: Uint8Array;
  linkpath?: string;
}

const TYPE_FLAGS: Record<NonNullable<TarEntrySpec['type']>, string> = {
  file: '0', hardlink: '1', symlink: '2', chardev: '3', directory: '5',
};

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/**
 * A raw ustar header written by hand: real tar writers sanitise `../` and absolute names, and the
 * point of hostile fixtures is to keep them.
 */
function tarHeader(entry: TarEntrySpec, size: number): Uint8Array {
  const header = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, width: number): void => {
    header.write(text.slice(0, width), offset, 'latin1');
  };
  put(entry.path, 0, 100);
  put(octal(entry.type === 'directory' ? 0o755 : 0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(1_700_000_000, 12), 136, 12);
  put('        ', 148, 8);
  put(TYPE_FLAGS[entry.type ?? 'file'], 156, 1);
  put(entry.linkpath ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(octal(sum, 7) + ' ', 148, 8);
  return header;
}

/** A gzipped tar holding exactly the given entries, in order, names unmodified. */
export function makeTarGz(entries: TarEntrySpec[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const content = entry.type === undefined || entry.type === 'file' ? entry.content ?? new Uint8Array(0) : new Uint8Array(0);
    parts.push(tarHeader(entry, content.length), content);
    const pad = (512 - (content.length % 512)) % 512;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(1024));
  return gzipSync(Buffer.concat(parts));
}

/** The fixture packed like the official tarball: `cifar-10-batches-bin/<file>`. */
export function makeCifarTarGz(fixture: CifarFixture, extra: TarEntrySpec[] = []): Buffer {
  const entries: TarEntrySpec[] = [{ path: `${CIFAR_DIRECTORY}/`, type: 'directory' }];
  for (const [name, content] of fixture.files) entries.push({ path: `${CIFAR_DIRECTORY}/${name}`, content });
  return makeTarGz([...entries, ...extra]);
}

/** A StageContext for calling `stage.run(params, ctx)` directly in tests; progress and logs are recorded. */
export interface RecordingContext extends StageContext {
  logs: string[];
  progressEvents: StageProgress[];
  backends: { name: string; versions: Record<string, string> }[];
}

export function testStageContext(outDir: string, scratchDir: string, overrides: Partial<StageContext> = {}): RecordingContext {
  const logs: string[] = [];
  const progressEvents: StageProgress[] = [];
  const backends: { name: string; versions: Record<string, string> }[] = [];
  return {
    id: 'test-stage',
    inputs: [],
    outDir,
    scratchDir,
    dataPath: [],
    backend: 'cpu',
    progress: (p) => progressEvents.push(p),
    log: (line) => logs.push(line),
    reportBackend: (info) => backends.push(info),
    signal: new AbortController().signal,
    ...overrides,
    logs,
    progressEvents,
    backends,
  };
}

/** A StageInput pointing at an existing directory (e.g. a dataset written with writeDataset). */
export function testStageInput(dir: string, kind: string, params: JsonObject = {}): StageInput {
  return { id: `${kind}-input`, stage: kind, kind, matrix: {}, params, dir };
}
