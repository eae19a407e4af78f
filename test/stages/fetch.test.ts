import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/common/paths.js';
import { CIFAR10_SHA256, sha256Bytes } from '../../src/ml/checksums.js';
import { readDatasetInfo, readSplit } from '../../src/ml/dataset.js';
import { StageError } from '../../src/common/stage-contract.js';
import stage, { type FetchParams } from '../../src/stages/fetch.js';
import {
  makeCifarFixture, makeCifarTarGz, testStageContext, writeCifarFixtureDirectory, type RecordingContext,
} from '../helpers/cifar-fixture.js';

let root = '';
let counter = 0;
const fixture = makeCifarFixture(4, 6);

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bdlab-fetch-stage-'));
  await mkdir(join(root, 'tarball'));
  await writeFile(join(root, 'tarball', 'cifar-10-binary.tar.gz'), makeCifarTarGz(fixture));
  await writeCifarFixtureDirectory(join(root, 'extracted'), fixture);
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function runFetch(params: FetchParams, overrides: Partial<RecordingContext> = {}): Promise<{ outDir: string; metrics: unknown; ctx: RecordingContext }> {
  const outDir = join(root, `out-${++counter}`);
  await mkdir(outDir);
  const ctx = testStageContext(outDir, join(root, `scratch-${counter}`), overrides);
  const result = await stage.run(params, ctx);
  return { outDir, metrics: result.metrics, ctx };
}

async function expectStageError(params: FetchParams, pattern: RegExp, overrides: Partial<RecordingContext> = {}): Promise<string> {
  try {
    await runFetch(params, overrides);
  } catch (error) {
    assert.instance(error, StageError);
    assert.match((error as Error).message, pattern);
    return (error as Error).message;
  }
  assert.unreachable(`expected a StageError matching ${pattern}`);
  return '';
}

test('tarball in data_path: all splits, labels in batch order, class names', async () => {
  const { outDir, metrics } = await runFetch({ data_path: join(root, 'tarball'), verify: false });
  assert.equal(metrics, { train: 20, test: 6, verified: false, source: 'tarball' });
  assert.equal(Array.from((await readSplit(outDir, 'train')).labels), fixture.trainLabels);
  assert.equal(Array.from((await readSplit(outDir, 'test')).labels), fixture.testLabels);
  const info = await readDatasetInfo(outDir);
  assert.is(info.name, 'cifar10');
  assert.is(info.classes[9], 'truck');
  const provenance = JSON.parse(await readFile(join(outDir, 'fetch.json'), 'utf8'));
  assert.is(provenance.sha256['test_batch.bin'], sha256Bytes(fixture.files.get('test_batch.bin')!));
});

test('extracted directory found through ctx.dataPath', async () => {
  const { outDir, metrics } = await runFetch({ verify: false }, { dataPath: [join(root, 'nothing-here'), join(root, 'extracted')] });
  assert.equal(metrics, { train: 20, test: 6, verified: false, source: 'directory' });
  assert.equal(Array.from((await readSplit(outDir, 'test')).labels), fixture.testLabels);
});

test('checksum mismatch names the file, the expected and the actual hash', async () => {
  const message = await expectStageError({ data_path: join(root, 'tarball') }, /failed SHA-256 verification/);
  const actual = sha256Bytes(fixture.files.get('data_batch_1.bin')!);
  assert.ok(message.includes(`data_batch_1.bin: expected sha256 ${CIFAR10_SHA256['data_batch_1.bin']}, got ${actual}`), message);
  assert.not.match(message, /\n\s+at /);
});

test('nothing found and download off: tells the user about --data-path and BDLAB_DATA_PATH', async () => {
  const empty = join(root, 'empty');
  await mkdir(empty);
  const message = await expectStageError({ download: false }, /CIFAR-10 was not found in the data path/, { dataPath: [empty] });
  assert.match(message, /--data-path DIR or BDLAB_DATA_PATH=DIR/);
  assert.ok(message.includes(empty));
});

test('hostile tarball is rejected naming the entry', async () => {
  const dir = join(root, 'hostile');
  await mkdir(dir);
  await writeFile(join(dir, 'cifar-10-binary.tar.gz'), makeCifarTarGz(fixture, [{ path: '../../escape.bin', content: new Uint8Array(4) }]));
  await expectStageError({ data_path: dir, verify: false }, /entry '..\/..\/escape.bin' contains a '..' path segment/);
  assert.not.ok(existsSync(join(root, '..', 'escape.bin')));
});

test('synthetic dataset with a balanced subset', async () => {
  const { outDir, metrics } = await runFetch({ dataset: 'synthetic', synthetic: { train: 100, test: 40, seed: 2, difficulty: 0.1 }, subset: { train: 30 }, seed: 1 });
  assert.equal(metrics, { train: 30, test: 40, verified: false, source: 'synthetic' });
  const train = await readSplit(outDir, 'train');
  const counts = new Array(10).fill(0);
  for (const l of train.labels) counts[l]++;
  assert.equal(counts, new Array(10).fill(3));
  const again = await runFetch({ dataset: 'synthetic', synthetic: { train: 100, test: 40, seed: 2, difficulty: 0.1 }, subset: { train: 30 }, seed: 1 });
  assert.equal((await readSplit(again.outDir, 'train')).images, train.images);
  const first = await runFetch({ dataset: 'synthetic', synthetic: { train: 100, test: 40, seed: 2, difficulty: 0.1 }, subset: { test: 5, mode: 'first' } });
  const fullTest = (await readSplit(outDir, 'test'));
  assert.equal((await readSplit(first.outDir, 'test')).images, fullTest.images.subarray(0, 5 * 3072));
});

const realTarball = join(packageRoot(), '..', 'shared', 'datasets', 'cifar-10-binary.tar.gz');
test('real CIFAR-10 tarball: hashes verified, 50,000 / 10,000 images, known first labels', async () => {
  if (!existsSync(realTarball)) {
    console.log(`  (skipped: ${realTarball} absent)`);
    return;
  }
  const started = Date.now();
  const { outDir, metrics } = await runFetch({ data_path: realTarball });
  assert.equal(metrics, { train: 50000, test: 10000, verified: true, source: 'tarball' });
  assert.equal(Array.from((await readSplit(outDir, 'train')).labels.subarray(0, 5)), [6, 9, 9, 4, 1]);
  assert.equal(Array.from((await readSplit(outDir, 'test')).labels.subarray(0, 5)), [3, 8, 8, 0, 6]);
  await rm(outDir, { recursive: true, force: true });
  console.log(`  real CIFAR-10 fetch: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

test.run();
