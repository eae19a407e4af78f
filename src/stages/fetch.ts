import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InputFileError, readRegularFile } from '../common/read-bounded.js';
import { ArchiveError, readArchiveFiles } from '../ml/archive.js';
import { CIFAR10_FILE_BYTES, CIFAR10_SHA256, compareChecksums, describeMismatches, sha256Bytes } from '../ml/checksums.js';
import {
  CIFAR_DATA_FILES, CIFAR_DIRECTORY, CIFAR_META_FILE, CifarFormatError, cifarFromFiles, type CifarData,
} from '../ml/cifar.js';
import { imageSize, writeDataset, type ImageSet } from '../ml/dataset.js';
import { createRng, deriveSeed, shuffleInPlace } from '../ml/rng.js';
import { generateSynthetic } from '../ml/synthetic.js';
import { StageError, type StageContext } from '../common/stage-contract.js';
import { defineStage, withDefaults, type StageParams, type StageParamsInput } from './params.js';

export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
const TARBALL = 'cifar-10-binary.tar.gz';
/** How long to wait for the server to answer before calling the machine offline. */
const CONNECT_TIMEOUT_MS = 30_000;

/** Params as written (defaults may be left out). */
export type FetchParams = StageParamsInput<'fetch'>;
type Params = StageParams<'fetch'>;

type CifarSource = { kind: 'tarball' | 'directory'; path: string };

/** Where CIFAR-10 may be in one data-path entry, in order of preference (extracted data reads fastest). */
function candidatesIn(entry: string): CifarSource[] {
  if (!existsSync(entry)) return [];
  if (statSync(entry).isFile()) return entry.endsWith('.tar.gz') || entry.endsWith('.tgz') || entry.endsWith('.tar') ? [{ kind: 'tarball', path: entry }] : [];
  const found: CifarSource[] = [];
  if (existsSync(join(entry, 'data_batch_1.bin'))) found.push({ kind: 'directory', path: entry });
  if (existsSync(join(entry, CIFAR_DIRECTORY, 'data_batch_1.bin'))) found.push({ kind: 'directory', path: join(entry, CIFAR_DIRECTORY) });
  if (existsSync(join(entry, TARBALL))) found.push({ kind: 'tarball', path: join(entry, TARBALL) });
  return found;
}

function searchPath(params: Params, ctx: StageContext): string[] {
  const own = params.data_path === undefined ? [] : Array.isArray(params.data_path) ? params.data_path : [params.data_path];
  return [...own.map((p) => resolve(p)), ...ctx.dataPath];
}

async function download(ctx: StageContext, searched: string[]): Promise<string> {
  const target = join(ctx.scratchDir, TARBALL);
  if (existsSync(target)) return target; // finished by an earlier, interrupted attempt; verification still applies
  await mkdir(ctx.scratchDir, { recursive: true });
  const partial = `${target}.partial`;
  const hint =
    `CIFAR-10 was not found in the data path (searched: ${searched.length ? searched.join(', ') : 'nothing; no data path given'}). ` +
    `Put ${TARBALL} or an extracted ${CIFAR_DIRECTORY}/ into a directory and pass it with --data-path DIR or BDLAB_DATA_PATH=DIR ` +
    '(or the fetch param data_path).';
  ctx.log(`downloading ${CIFAR10_URL}`);
  let response: Response;
  try {
    response = await fetch(CIFAR10_URL, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(CONNECT_TIMEOUT_MS)]) });
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    throw new StageError(`${hint} Downloading ${CIFAR10_URL} failed too (${cause}); this machine is probably offline.`);
  }
  if (!response.ok || !response.body) {
    throw new StageError(`${hint} Downloading ${CIFAR10_URL} failed too (HTTP ${response.status} ${response.statusText}).`);
  }
  const total = Number(response.headers.get('content-length') ?? 0);
  let received = 0;
  let lastReport = 0;
  const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_DOWNLOAD_BYTES) body.destroy(new Error(`the server sent more than ${MAX_DOWNLOAD_BYTES} bytes, far more than the CIFAR-10 tarball has`));
    if (received - lastReport >= 1 << 20 || received === total) {
      lastReport = received;
      const mb = (received / 1e6).toFixed(0);
      ctx.progress({ message: `downloading CIFAR-10 ${mb}${total ? `/${(total / 1e6).toFixed(0)}` : ''} MB`, ...(total ? { fraction: received / total } : {}) });
    }
  });
  try {
    await pipeline(body, createWriteStream(partial), { signal: ctx.signal });
  } catch (error) {
    await rm(partial, { force: true });
    if (ctx.signal.aborted) throw error;
    throw new StageError(`Downloading ${CIFAR10_URL} broke off after ${received} bytes (${error instanceof Error ? error.message : String(error)}). Run again, or download it by hand and pass its directory with --data-path.`);
  }
  await rename(partial, target);
  return target;
}

/** batches.meta.txt holds ten class names; anything near this size is not CIFAR-10's. */
const MAX_META_BYTES = 64 * 1024;
/** The official tarball has 170,052,171 bytes; a download growing far beyond is not it. */
const MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;

/**
 * One file of an extracted CIFAR-10 directory, refused unless it is a regular file of at most
 * `maxBytes` (a data file has exactly 30,730,000 bytes): a symlink to a device or a FIFO in the data
 * path fails at once instead of reading forever.
 */
async function readDataFile(path: string, maxBytes: number): Promise<Buffer> {
  try {
    return await readRegularFile(path, maxBytes);
  } catch (error) {
    if (error instanceof InputFileError) throw new StageError(`Cannot read ${path} as CIFAR-10 data: ${error.message}.`);
    throw error;
  }
}

/** The six data files (+ meta) by base name, from a tarball (streamed, never extracted to disk) or a directory. */
async function readSourceFiles(source: CifarSource, ctx: StageContext): Promise<{ files: Map<string, Uint8Array>; meta?: string }> {
  const files = new Map<string, Uint8Array>();
  let meta: string | undefined;
  if (source.kind === 'directory') {
    for (const name of CIFAR_DATA_FILES) {
      const path = join(source.path, name);
      if (!existsSync(path)) throw new StageError(`CIFAR-10 directory ${source.path} has no ${name}; it needs ${CIFAR_DATA_FILES.join(', ')}.`);
      files.set(name, new Uint8Array(await readDataFile(path, CIFAR10_FILE_BYTES)));
    }
    const metaPath = join(source.path, CIFAR_META_FILE);
    if (existsSync(metaPath)) meta = (await readDataFile(metaPath, MAX_META_BYTES)).toString('utf8');
    return meta === undefined ? { files } : { files, meta };
  }
  const wantedNames = new Set<string>([...CIFAR_DATA_FILES, CIFAR_META_FILE]);
  const isWanted = (path: string): boolean => {
    const parts = path.split('/');
    return parts.length >= 2 && parts[parts.length - 2] === CIFAR_DIRECTORY && wantedNames.has(parts[parts.length - 1]!);
  };
  let members: Map<string, Buffer>;
  let reported = -1;
  try {
    members = await readArchiveFiles(source.path, {
      wanted: isWanted,
      maxEntryBytes: (path) => (path.endsWith(CIFAR_META_FILE) ? MAX_META_BYTES : CIFAR10_FILE_BYTES),
      signal: ctx.signal,
      onProgress: (p) => {
        // Reads arrive in 64 KiB chunks; one update per percent is plenty for a display.
        const percent = Math.floor((100 * p.compressedBytesRead) / Math.max(1, p.compressedBytesTotal));
        if (percent === reported) return;
        reported = percent;
        ctx.progress({ message: `reading ${basename(source.path)} ${percent}%`, fraction: percent / 100 });
      },
    });
  } catch (error) {
    if (error instanceof ArchiveError) throw new StageError(error.message);
    throw error;
  }
  for (const [path, content] of members) {
    const name = basename(path);
    if (name === CIFAR_META_FILE) meta = content.toString('utf8');
    else files.set(name, new Uint8Array(content.buffer, content.byteOffset, content.byteLength));
  }
  const missing = CIFAR_DATA_FILES.filter((n) => !files.has(n));
  if (missing.length) {
    throw new StageError(`${source.path} does not hold the CIFAR-10 binary version: ${missing.map((n) => `${CIFAR_DIRECTORY}/${n}`).join(', ')} missing.`);
  }
  return meta === undefined ? { files } : { files, meta };
}

function pickIndices(set: ImageSet, n: number, mode: 'balanced' | 'first', seed: number, split: string): number[] {
  if (n >= set.count) return Array.from({ length: set.count }, (_, i) => i);
  if (mode === 'first') return Array.from({ length: n }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < set.count; i++) {
    const list = byClass.get(set.labels[i]!) ?? [];
    list.push(i);
    byClass.set(set.labels[i]!, list);
  }
  const rng = createRng(deriveSeed(seed, `subset-${split}`));
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  for (const c of classes) shuffleInPlace(byClass.get(c)!, rng);
  // Round robin over classes, so a class with few images just stops contributing.
  const picked: number[] = [];
  for (let round = 0; picked.length < n; round++) {
    for (const c of classes) {
      const list = byClass.get(c)!;
      if (round < list.length && picked.length < n) picked.push(list[round]!);
    }
  }
  return picked.sort((a, b) => a - b);
}

/** A subset: the `first` N images, or a seeded class-balanced sample kept in original order. */
export function subsetImageSet(set: ImageSet, n: number | undefined, mode: 'balanced' | 'first', seed: number, split: string): ImageSet {
  if (n === undefined || n >= set.count) return set;
  const indices = pickIndices(set, n, mode, seed, split);
  const size = imageSize(set);
  const images = new Uint8Array(indices.length * size);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, k) => {
    images.set(set.images.subarray(src * size, (src + 1) * size), k * size);
    labels[k] = set.labels[src]!;
  });
  return { ...set, images, labels, count: indices.length };
}

async function loadCifar(params: Params, ctx: StageContext): Promise<{ data: CifarData; provenance: Record<string, unknown> }> {
  const searched = searchPath(params, ctx);
  let source = searched.flatMap(candidatesIn)[0];
  let downloaded = false;
  if (!source) {
    if (!params.download) {
      throw new StageError(
        `CIFAR-10 was not found in the data path (searched: ${searched.length ? searched.join(', ') : 'nothing; no data path given'}) and download is off. ` +
          `Put ${TARBALL} or an extracted ${CIFAR_DIRECTORY}/ into a directory and pass it with --data-path DIR or BDLAB_DATA_PATH=DIR (or the fetch param data_path).`,
      );
    }
    source = { kind: 'tarball', path: await download(ctx, searched) };
    downloaded = true;
  }
  ctx.log(`reading CIFAR-10 from ${source.path}`);
  const { files, meta } = await readSourceFiles(source, ctx);
  const hashes = new Map<string, string>();
  for (const [name, bytes] of files) hashes.set(name, sha256Bytes(bytes));
  if (params.verify) {
    const mismatches = compareChecksums(hashes, CIFAR10_SHA256);
    if (mismatches.length) {
      if (downloaded) await rm(source.path, { force: true });
      throw new StageError(describeMismatches(mismatches, source.path));
    }
    ctx.log('SHA-256 of all six data files match the official CIFAR-10 release');
  }
  let data: CifarData;
  try {
    data = cifarFromFiles(files, meta);
  } catch (error) {
    if (error instanceof CifarFormatError) throw new StageError(`${source.path}: ${error.message}`);
    throw error;
  }
  return {
    data,
    provenance: { source: source.path, sourceKind: downloaded ? 'download' : source.kind, verified: params.verify, sha256: Object.fromEntries(hashes) },
  };
}

const stage = defineStage('fetch')({
  async run(params, ctx) {
    const dataset = params.dataset;
    let data: CifarData;
    let provenance: Record<string, unknown>;
    if (dataset === 'synthetic') {
      // `synthetic` itself has no default (one would change every fetch's cache key), so its fields'
      // defaults are filled into an empty one by the schema here; the record keeps this field order.
      const given = params.synthetic ?? (withDefaults('fetch', { synthetic: {} }) as Params).synthetic!;
      const options = { train: given.train, test: given.test, seed: given.seed, difficulty: given.difficulty };
      ctx.progress({ message: `generating ${options.train}+${options.test} synthetic images` });
      data = generateSynthetic(options);
      provenance = { source: 'synthetic', sourceKind: 'synthetic', synthetic: options };
    } else {
      ({ data, provenance } = await loadCifar(params, ctx));
    }
    // Without a subset, mode does nothing (all images are kept); with one, the schema filled it in.
    const mode = params.subset?.mode ?? 'first';
    const seed = params.seed;
    const train = subsetImageSet(data.train, params.subset?.train, mode, seed, 'train');
    const test = subsetImageSet(data.test, params.subset?.test, mode, seed, 'test');
    await writeDataset(ctx.outDir, { name: dataset, classes: data.classes, height: train.height, width: train.width, channels: train.channels }, { train, test });
    const fetchInfo = { ...provenance, subset: params.subset ? { ...params.subset, mode, seed } : null, train: train.count, test: test.count };
    await writeFile(join(ctx.outDir, 'fetch.json'), JSON.stringify(fetchInfo, null, 2) + '\n');
    ctx.log(`dataset ${dataset}: ${train.count} training and ${test.count} test images`);
    return { metrics: { train: train.count, test: test.count, verified: provenance['verified'] === true, source: String(provenance['sourceKind']) } };
  },
});

export default stage;
