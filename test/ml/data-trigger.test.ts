import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRng, deriveSeed, sample, shuffleInPlace } from '../../src/ml/rng.js';
import { applyTrigger, randomTrigger, triggeredCopy, triggerProblem } from '../../src/ml/trigger.js';
import type { ImageSet } from '../../src/ml/dataset.js';

function setOf(count: number, height = 4, width = 5): ImageSet {
  const images = new Uint8Array(count * height * width * 3);
  for (let i = 0; i < images.length; i++) images[i] = (i * 31) % 251;
  return { images, labels: new Uint8Array(count), count, height, width, channels: 3 };
}

test('rng: same seed same stream, different seeds differ, ints within bounds', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const xs = Array.from({ length: 20 }, () => a.next());
  assert.equal(Array.from({ length: 20 }, () => b.next()), xs);
  assert.not.equal(Array.from({ length: 20 }, () => c.next()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const r = createRng(1);
  const counts = new Array(5).fill(0);
  for (let i = 0; i < 5000; i++) counts[r.int(5)]++;
  assert.ok(counts.every((n) => n > 850 && n < 1150), `int(5) roughly uniform: ${counts}`);
  assert.is.not(deriveSeed(7, 'a'), deriveSeed(7, 'b'));
  assert.is(deriveSeed(7, 'a'), deriveSeed(7, 'a'));
});

test('rng: shuffle is a permutation, sample is distinct and seeded', () => {
  const shuffled = shuffleInPlace(Array.from({ length: 50 }, (_, i) => i), createRng(3));
  assert.equal([...shuffled].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.not.equal(shuffled, Array.from({ length: 50 }, (_, i) => i));
  const s1 = sample(Array.from({ length: 100 }, (_, i) => i), 10, createRng(9));
  assert.is(new Set(s1).size, 10);
  assert.equal(sample(Array.from({ length: 100 }, (_, i) => i), 10, createRng(9)), s1);
  assert.throws(() => sample([1, 2], 3, createRng(1)), /cannot sample 3 of 2/);
});

test('applyTrigger sets exactly the requested pixel of the requested image', () => {
  const set = setOf(3);
  const before = set.images.slice();
  applyTrigger(set, 1, { row: 2, col: 3, color: [255, 1, 128] });
  const offset = 1 * 4 * 5 * 3 + (2 * 5 + 3) * 3;
  assert.equal(Array.from(set.images.subarray(offset, offset + 3)), [255, 1, 128]);
  let changed = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== set.images[i]) {
      changed++;
      assert.ok(i >= offset && i < offset + 3, `byte ${i} changed outside the trigger pixel`);
    }
  }
  assert.ok(changed >= 1);
});

test('applyTrigger validates bounds with a clear message', () => {
  const set = setOf(2);
  assert.throws(() => applyTrigger(set, 0, { row: 4, col: 0, color: [0, 0, 0] }), /row 4 is outside the image \(valid rows: 0..3\)/);
  assert.throws(() => applyTrigger(set, 0, { row: 0, col: -1, color: [0, 0, 0] }), /col -1 is outside/);
  assert.throws(() => applyTrigger(set, 0, { row: 0, col: 0, color: [0, 256, 0] }), /integers 0..255/);
  assert.throws(() => applyTrigger(set, 2, { row: 0, col: 0, color: [0, 0, 0] }), /image index 2 is outside/);
  assert.is(triggerProblem({ row: 3, col: 4, color: [1, 2, 3] }, set), null);
});

test('triggeredCopy stamps every image and leaves the source untouched', () => {
  const set = setOf(4);
  const original = set.images.slice();
  const copy = triggeredCopy(set, { row: 0, col: 0, color: [7, 8, 9] });
  assert.equal(set.images, original);
  for (let n = 0; n < 4; n++) assert.equal(Array.from(copy.images.subarray(n * 60, n * 60 + 3)), [7, 8, 9]);
});

test('randomTrigger is seeded, in bounds, with extreme channel values', () => {
  const geometry = { height: 32, width: 32, channels: 3 };
  const t1 = randomTrigger(createRng(5), geometry);
  assert.equal(randomTrigger(createRng(5), geometry), t1);
  const rng = createRng(6);
  for (let i = 0; i < 200; i++) {
    const t = randomTrigger(rng, geometry);
    assert.is(triggerProblem(t, geometry), null);
    assert.ok(t.color.every((v) => v === 0 || v === 255));
  }
});

test.run();
