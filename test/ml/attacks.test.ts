import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DifferentialEvolution } from '../../src/ml/attacks/differential-evolution.js';
import { SeededRandom } from '../../src/ml/attacks/seeded-random.js';
import { decodeCandidate, writeCandidateImage } from '../../src/ml/attacks/candidate-batch.js';
import {
  searchOnePixel,
  type AttackedImage,
  type OnePixelSearchProgress,
  type PredictFn,
} from '../../src/ml/attacks/one-pixel-search.js';
import { aggregateAttackOutcomes } from '../../src/ml/metrics.js';
import { selectCorrectlyClassified } from '../../src/ml/attacks/image-selection.js';
import type { ImageSet } from '../../src/ml/dataset.js';

const SHAPE = { height: 32, width: 32, channels: 3 };
const IMAGE_SIZE = 32 * 32 * 3;
const VULNERABLE = { row: 5, col: 7 };

/**
 * A hand-built linear classifier with one planted weakness. It says class 0 unless pixels turn
 * magenta (high red and blue, low green) where its class-3 weights are large: a broad, weak bump
 * around (5, 7) gives the search a slope to climb, and a sharp spike at exactly (5, 7) is the only
 * place where one pixel can outweigh class 0 (a neighbour's weight is at most 0.35, too little).
 */
const GRAY = 128;
const WEIGHTS = new Float64Array(32 * 32);
for (let row = 0; row < 32; row++) {
  for (let col = 0; col < 32; col++) {
    const d2 = (row - VULNERABLE.row) ** 2 + (col - VULNERABLE.col) ** 2;
    WEIGHTS[row * 32 + col] = 0.35 * Math.exp(-d2 / 72) + (d2 === 0 ? 0.65 : 0);
  }
}

function plantedPredict(calls?: number[]): PredictFn {
  const neutral = GRAY / 255;
  return async (batch) => {
    const n = batch.length / IMAGE_SIZE;
    calls?.push(n);
    const out = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) {
      let evidence = 0;
      for (let px = 0; px < 32 * 32; px++) {
        const p = i * IMAGE_SIZE + px * 3;
        evidence += WEIGHTS[px]! * (batch[p]! + batch[p + 2]! - batch[p + 1]! - neutral);
      }
      const logits = new Array<number>(10).fill(0);
      logits[0] = 2;
      logits[3] = 6 * evidence - 3;
      const max = Math.max(...logits);
      const exps = logits.map((l) => Math.exp(l - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      for (let k = 0; k < 10; k++) out[i * 10 + k] = exps[k]! / sum;
    }
    return out;
  };
}

function grayImage(image: number, trueClass = 0): AttackedImage {
  return { image, trueClass, pixels: new Uint8Array(IMAGE_SIZE).fill(GRAY) };
}

const SMALL = { shape: SHAPE, population: 50, generations: 80, mutation: 0.5, seed: 1 };

test('non-targeted search finds the planted pixel (row 5, col 7) and flips the class', async () => {
  const report = await searchOnePixel([grayImage(0), grayImage(1)], plantedPredict(), { ...SMALL, mode: 'non-targeted' });
  assert.is(report.results.length, 2);
  for (const r of report.results) {
    assert.ok(r.success, `image ${r.image} not flipped`);
    assert.is(r.row, 5);
    assert.is(r.col, 7);
    assert.is(r.predicted, 3);
    assert.ok(r.color[0]! + r.color[2]! - r.color[1]! - GRAY > 255 * (5 / 6), `colour ${r.color} should be magenta-ish`);
    assert.ok(r.probability > r.goalProbability, 'class 3 must beat the true class');
    assert.ok(r.goalProbability < 0.45, `true-class probability ${r.goalProbability} should have dropped from 0.45`);
  }
  assert.equal(report.outcomes.map((o) => o.predicted), [3, 3]);
  assert.ok(report.imagesPerMinute > 0);
});

test('targeted search: only the planted class is reachable; metrics aggregate the 9 searches per image', async () => {
  const report = await searchOnePixel([grayImage(4)], plantedPredict(), { ...SMALL, generations: 15, mode: 'targeted' });
  assert.equal(report.results.map((r) => r.target), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const successes = report.results.filter((r) => r.success);
  assert.is(successes.length, 1);
  assert.is(successes[0]!.target, 3);
  assert.equal([successes[0]!.row, successes[0]!.col], [5, 7]);
  const metrics = aggregateAttackOutcomes(report.outcomes);
  assert.is(metrics.attemptedTargeted, 9);
  assert.is(metrics.attemptedImages, 1);
  assert.ok(Math.abs(metrics.targetedSuccessRate - 1 / 9) < 1e-12);
  assert.is(metrics.nonTargetedSuccessRate, 1);
  assert.is(metrics.targetClassHistogram[1], 1);
  assert.is(metrics.classPairs[0]![3], 1);
  assert.is(metrics.classPairs[0]!.reduce((a, b) => a + b, 0), 1);
  // Unreachable targets ran every generation: early stop only fires on success.
  for (const r of report.results) if (!r.success) assert.is(r.generations, 15);
});

test('same seed gives identical results, independent of concurrency and batch size', async () => {
  const images = [grayImage(0), grayImage(1), grayImage(2)];
  const options = { ...SMALL, generations: 8, earlyStop: false, mode: 'targeted' as const };
  const a = await searchOnePixel(images, plantedPredict(), { ...options, concurrent: 12, maxBatch: 1000 });
  const b = await searchOnePixel(images, plantedPredict(), { ...options, concurrent: 1, maxBatch: 7 });
  assert.equal(a.results, b.results);
  assert.is(a.evaluations, b.evaluations);
  const c = await searchOnePixel(images, plantedPredict(), { ...options, seed: 2, concurrent: 12, maxBatch: 1000 });
  assert.not.equal(
    c.results.map((r) => [r.row, r.col, r.color]),
    a.results.map((r) => [r.row, r.col, r.color]),
  );
});

test('candidates of several searches share one forward pass, chunked to maxBatch', async () => {
  const calls: number[] = [];
  const report = await searchOnePixel([grayImage(0)], plantedPredict(calls), {
    ...SMALL, population: 10, generations: 2, earlyStop: false, mode: 'targeted', concurrent: 4, maxBatch: 25,
  });
  // 9 searches, 4 side by side: steps of 40, 40 and 10 candidates; 3 evaluations (init + 2 generations) each.
  assert.equal(calls, [25, 15, 25, 15, 25, 15, 25, 15, 25, 15, 25, 15, 10, 10, 10]);
  assert.is(report.evaluations, 9 * 10 * 3);
  assert.is(report.forwardCalls, calls.length);
});

test('early stop ends a successful search before the generation limit', async () => {
  const options = { ...SMALL, generations: 40, mode: 'non-targeted' as const };
  const stopped = await searchOnePixel([grayImage(0)], plantedPredict(), options);
  const full = await searchOnePixel([grayImage(0)], plantedPredict(), { ...options, earlyStop: false });
  assert.ok(stopped.results[0]!.success);
  assert.ok(stopped.results[0]!.generations < 40, `stopped at ${stopped.results[0]!.generations}`);
  assert.is(full.results[0]!.generations, 40);
  assert.is(full.evaluations, 50 * 41);
  assert.ok(stopped.evaluations < full.evaluations);
});

test('progress reports generations and best fitness', async () => {
  const seen: OnePixelSearchProgress[] = [];
  await searchOnePixel([grayImage(0)], plantedPredict(), {
    ...SMALL, generations: 5, earlyStop: false, mode: 'non-targeted', onProgress: (p) => seen.push({ ...p }),
  });
  assert.equal(seen.map((p) => p.generation), [0, 1, 2, 3, 4, 5]);
  for (const p of seen) assert.ok(p.bestFitness > 0 && p.bestFitness <= 1);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.bestFitness >= seen[i - 1]!.bestFitness, 'DE never loses its best');
  assert.is(seen.at(-1)!.imagesDone, 1);
  assert.is(seen.at(-1)!.searchesTotal, 1);
});

test('predict returning the wrong number of values is a clear error', async () => {
  const bad: PredictFn = async (batch) => new Float32Array((batch.length / IMAGE_SIZE) * 9);
  try {
    await searchOnePixel([grayImage(0)], bad, { ...SMALL, mode: 'non-targeted' });
    assert.unreachable('should throw');
  } catch (err) {
    assert.match((err as Error).message, /predict returned 450 values for 50 images × 10 classes/);
  }
});

test('differential evolution: children stay in bounds, only strictly better children replace parents', () => {
  const de = new DifferentialEvolution(
    { population: 8, mutation: 0.9, low: [0, 0], high: [31, 255], initial: (r, d) => (d === 0 ? r.uniform(-10, 40) : r.normal(128, 300)) },
    new SeededRandom(3),
  );
  for (const v of de.population.filter((_, i) => i % 2 === 0)) assert.ok(v >= 0 && v <= 31);
  for (const v of de.population.filter((_, i) => i % 2 === 1)) assert.ok(v >= 0 && v <= 255);
  assert.is(de.acceptFitness([1, 1, 1, 1, 1, 1, 1, 1]), 0);
  const before = Array.from(de.population);
  const children = Array.from(de.pending());
  const replaced = de.acceptFitness([2, 1, 0, 1, 2, 1, 1, 1]);
  assert.is(replaced, 2);
  assert.is(de.generation, 1);
  assert.equal(Array.from(de.population.subarray(0, 2)), children.slice(0, 2));
  assert.equal(Array.from(de.population.subarray(2, 4)), before.slice(2, 4));
  assert.equal(Array.from(de.population.subarray(8, 10)), children.slice(8, 10));
  assert.is(de.bestFitness(), 2);
  assert.throws(() => new DifferentialEvolution({ population: 3, mutation: 0.5, low: [0], high: [1], initial: () => 0 }, new SeededRandom(0)), /at least 4/);
});

test('a candidate vector becomes exactly one rounded, clipped pixel', () => {
  const base = new Float32Array(IMAGE_SIZE).fill(0.5);
  const batch = new Float32Array(2 * IMAGE_SIZE);
  writeCandidateImage(batch, 1, base, [0, 0, 0, 0, 0, 6.6, 4.4, 255.7, -3, 127.5], 5, SHAPE);
  const changed: number[] = [];
  for (let i = 0; i < batch.length; i++) if (batch[i] !== (i < IMAGE_SIZE ? 0 : 0.5)) changed.push(i);
  const p = IMAGE_SIZE + (4 * 32 + 7) * 3;
  assert.equal(changed, [p, p + 1, p + 2]);
  assert.equal(Array.from(batch.subarray(p, p + 3)), [1, 0, 128 / 255].map(Math.fround));
  assert.equal(decodeCandidate([40, -2, 10, 20, 30], 0, SHAPE), { row: 0, col: 31, color: [10, 20, 30] });
});

test('image selection: only correctly classified images, seeded, predicting no more than needed', async () => {
  // Image i has all bytes = i; the "model" predicts class (byte % 3), labels are i % 2, so images
  // with i % 6 in {0, 1} are classified correctly.
  const count = 60;
  const images = new Uint8Array(count * IMAGE_SIZE);
  for (let i = 0; i < count; i++) images.fill(i, i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE);
  const set: ImageSet = { images, labels: Uint8Array.from({ length: count }, (_, i) => i % 2), count, height: 32, width: 32, channels: 3 };
  let predicted = 0;
  const predict: PredictFn = async (batch) => {
    const n = batch.length / IMAGE_SIZE;
    predicted += n;
    const out = new Float32Array(n * 10);
    for (let k = 0; k < n; k++) out[k * 10 + (Math.round(batch[k * IMAGE_SIZE]! * 255) % 3)] = 1;
    return out;
  };
  const a = await selectCorrectlyClassified(set, predict, 5, 9, 4, 10);
  assert.is(a.images.length, 5);
  for (const img of a.images) {
    assert.ok(img.image % 6 === 0 || img.image % 6 === 1, `image ${img.image} is misclassified`);
    assert.is(img.trueClass, img.image % 2);
    assert.is(img.pixels[0], img.image);
  }
  assert.equal(a.images.map((i) => i.image), [...a.images.map((i) => i.image)].sort((x, y) => x - y));
  assert.is(predicted, a.examined);
  assert.ok(a.examined < count, `examined ${a.examined} of ${count}`);
  const b = await selectCorrectlyClassified(set, predict, 5, 9, 32, 10);
  assert.equal(b.images.map((i) => i.image), a.images.map((i) => i.image), 'same seed, same images, whatever the batch size');
  const all = await selectCorrectlyClassified(set, predict, 100, 9, 32, 10);
  assert.is(all.images.length, 20);
  assert.is(all.examined, count);
});

test.run();
