import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CIFAR_RECORD_BYTES, encodeCifarBatch, parseBatchesMeta, parseCifarBatch, readCifarDirectory,
} from '../../src/ml/cifar.js';
import { compareChecksums, describeMismatches, sha256Bytes, sha256File } from '../../src/ml/checksums.js';
import { generateSynthetic, syntheticCifarFiles } from '../../src/ml/synthetic.js';
import { fixturePixel, makeCifarBatchBytes, makeCifarFixture, writeCifarFixtureDirectory } from '../helpers/cifar-fixture.js';

test('parseCifarBatch: label byte then R, G, B planes become NHWC', () => {
  const set = parseCifarBatch(makeCifarBatchBytes([3, 7]));
  assert.is(set.count, 2);
  assert.equal(Array.from(set.labels), [3, 7]);
  assert.is(set.height, 32);
  assert.is(set.channels, 3);
  for (const [n, row, col] of [[0, 0, 0], [1, 5, 9], [1, 31, 31]] as const) {
    const p = row * 32 + col;
    const at = n * 3072 + p * 3;
    assert.equal(Array.from(set.images.subarray(at, at + 3)), [0, 1, 2].map((c) => fixturePixel(n, c, p)), `image ${n} pixel ${row},${col}`);
  }
});

test('encodeCifarBatch inverts parseCifarBatch', () => {
  const bytes = makeCifarBatchBytes([0, 9, 4], 11);
  assert.equal(encodeCifarBatch(parseCifarBatch(bytes)), bytes);
});

test('parseCifarBatch rejects partial records and bad labels with the file named', () => {
  assert.throws(() => parseCifarBatch(new Uint8Array(CIFAR_RECORD_BYTES + 5), 'data_batch_2.bin'), /data_batch_2.bin has 3078 bytes, which is not a whole number of CIFAR-10 records/);
  const bad = makeCifarBatchBytes([1, 2]);
  bad[CIFAR_RECORD_BYTES] = 12;
  assert.throws(() => parseCifarBatch(bad, 'test_batch.bin'), /test_batch.bin: record 1 has label 12/);
});

test('readCifarDirectory concatenates the five train batches in order and reads class names', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bdlab-cifar-'));
  try {
    const fixture = makeCifarFixture(3, 4);
    const dir = await writeCifarFixtureDirectory(root, fixture);
    const data = await readCifarDirectory(dir);
    assert.is(data.train.count, 15);
    assert.equal(Array.from(data.train.labels), fixture.trainLabels);
    assert.equal(Array.from(data.test.labels), fixture.testLabels);
    assert.is(data.classes[0], 'airplane');
    assert.is(data.classes.length, 10);
    // image 7 = second batch's second record: its pixels were generated with global index 7
    assert.is(data.train.images[7 * 3072 + 10 * 3 + 2], fixturePixel(7, 2, 10));
    await rm(join(dir, 'data_batch_4.bin'));
    try {
      await readCifarDirectory(dir);
      assert.unreachable('missing batch must fail');
    } catch (error) {
      assert.match((error as Error).message, /has no data_batch_4.bin/);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('parseBatchesMeta drops blank lines', () => {
  assert.equal(parseBatchesMeta('a\r\nb\n\n c \n'), ['a', 'b', 'c']);
});

test('checksums: streaming file hash equals in-memory hash; mismatches are named', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bdlab-sha-'));
  try {
    const bytes = makeCifarBatchBytes([1, 2, 3]);
    const dir = await writeCifarFixtureDirectory(root, { files: new Map([['x.bin', bytes]]), trainLabels: [], testLabels: [] });
    assert.is(await sha256File(join(dir, 'x.bin')), sha256Bytes(bytes));
    assert.is(sha256Bytes(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const mismatches = compareChecksums(new Map([['a.bin', 'aa'], ['b.bin', 'bb']]), { 'a.bin': 'aa', 'b.bin': 'cc', 'c.bin': 'dd' });
    assert.equal(mismatches, [{ file: 'b.bin', expected: 'cc', actual: 'bb' }, { file: 'c.bin', expected: 'dd', actual: 'missing' }]);
    assert.match(describeMismatches(mismatches, 'x.tar.gz'), /b.bin: expected sha256 cc, got bb/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('synthetic data: balanced, seeded, parsed through the CIFAR reader', () => {
  const options = { train: 50, test: 20, seed: 4, difficulty: 0.3 };
  const data = generateSynthetic(options);
  assert.is(data.train.count, 50);
  assert.is(data.test.count, 20);
  const counts = new Array(10).fill(0);
  for (const l of data.train.labels) counts[l]++;
  assert.equal(counts, new Array(10).fill(5));
  assert.equal(data.classes.length, 10);
  const again = generateSynthetic(options);
  assert.equal(again.train.images, data.train.images);
  const other = generateSynthetic({ ...options, seed: 5 });
  assert.not.equal(other.train.images, data.train.images);
  const files = syntheticCifarFiles(options);
  assert.is(files.get('data_batch_1.bin')!.length, 10 * CIFAR_RECORD_BYTES);
  assert.throws(() => generateSynthetic({ ...options, train: 3 }), /at least 5 training/);
});

test('synthetic classes are separable by a nearest-class-mean rule (learnable)', () => {
  const data = generateSynthetic({ train: 200, test: 100, seed: 1, difficulty: 0.3 });
  const size = 3072;
  const means = Array.from({ length: 10 }, () => new Float64Array(size));
  const counts = new Array(10).fill(0);
  for (let n = 0; n < data.train.count; n++) {
    const l = data.train.labels[n]!;
    counts[l]++;
    for (let i = 0; i < size; i++) means[l]![i]! += data.train.images[n * size + i]!;
  }
  means.forEach((m, l) => m.forEach((v, i) => (m[i] = v / counts[l])));
  let correct = 0;
  for (let n = 0; n < data.test.count; n++) {
    let best = -1;
    let bestDist = Infinity;
    for (let l = 0; l < 10; l++) {
      let d = 0;
      for (let i = 0; i < size; i++) d += (data.test.images[n * size + i]! - means[l]![i]!) ** 2;
      if (d < bestDist) { bestDist = d; best = l; }
    }
    if (best === data.test.labels[n]) correct++;
  }
  assert.ok(correct / data.test.count > 0.5, `nearest-mean accuracy ${correct / data.test.count}`);
});

test.run();
