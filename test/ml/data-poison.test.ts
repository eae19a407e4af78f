import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ImageSet } from '../../src/ml/dataset.js';
import { attacksFor, poisonTrainingSet } from '../../src/ml/poison.js';

/** 200 images of 4x4x3, labels i % 10, pixel bytes all 100 so any trigger write is visible. */
function flatSet(count = 200): ImageSet {
  return { images: new Uint8Array(count * 48).fill(100), labels: Uint8Array.from({ length: count }, (_, i) => i % 10), count, height: 4, width: 4, channels: 3 };
}
const trigger = { row: 1, col: 2, color: [255, 0, 0] as [number, number, number] };

function changedImages(before: ImageSet, after: ImageSet): number[] {
  const changed: number[] = [];
  for (let n = 0; n < before.count; n++) {
    for (let i = n * 48; i < (n + 1) * 48; i++) {
      if (before.images[i] !== after.images[i]) { changed.push(n); break; }
    }
  }
  return changed;
}

test('all-to-one: rate of the source-class images, only they get relabelled and triggered', () => {
  const clean = flatSet();
  const r = poisonTrainingSet(clean, { mode: 'all-to-one', rate: 0.25, seed: 1, trigger, target: 3, sources: [1, 2] });
  assert.is(r.eligible, 40);
  assert.is(r.indices.length, 10);
  assert.ok(r.oldLabels.every((l) => l === 1 || l === 2));
  assert.ok(r.newLabels.every((l) => l === 3));
  assert.equal(changedImages(clean, r.set), r.indices);
  for (const n of r.indices) assert.equal(Array.from(r.set.images.subarray(n * 48 + (1 * 4 + 2) * 3, n * 48 + (1 * 4 + 2) * 3 + 3)), [255, 0, 0]);
  let relabelled = 0;
  for (let n = 0; n < clean.count; n++) if (clean.labels[n] !== r.set.labels[n]) relabelled++;
  assert.is(relabelled, 10);
  assert.equal(Array.from(clean.images.subarray(0, 48)), new Array(48).fill(100), 'input untouched');
  assert.equal(r.spec, { mode: 'all-to-one', trigger, target: 3, sources: [1, 2], rate: 0.25, seed: 1 });
  assert.is(r.perTarget[3], 10);
});

test('seeded: same seed same indices, different seed different indices', () => {
  const config = { mode: 'all-to-one' as const, rate: 0.1, seed: 7, trigger, target: 0 };
  const a = poisonTrainingSet(flatSet(), config);
  const b = poisonTrainingSet(flatSet(), config);
  const c = poisonTrainingSet(flatSet(), { ...config, seed: 8 });
  assert.is(a.eligible, 180);
  assert.is(a.indices.length, 18);
  assert.equal(a.indices, b.indices);
  assert.equal(a.set.images, b.set.images);
  assert.not.equal(a.indices, c.indices);
});

test('all-to-all: label c becomes c+1 mod 10 at the requested rate', () => {
  const r = poisonTrainingSet(flatSet(), { mode: 'all-to-all', rate: 0.5, seed: 2, trigger });
  assert.is(r.eligible, 200);
  assert.is(r.indices.length, 100);
  r.oldLabels.forEach((old, k) => assert.is(r.newLabels[k], (old + 1) % 10));
  assert.is(r.set.labels[r.indices[0]!], r.newLabels[0]);
});

test('per-target: split evenly over targets, never toward the own class, each image once', () => {
  const triggers = Array.from({ length: 10 }, (_, t) => (t < 4 ? { row: t, col: t, color: [0, 255, 0] as [number, number, number] } : null));
  const clean = flatSet();
  const r = poisonTrainingSet(clean, { mode: 'per-target', rate: 0.3, seed: 3, triggers });
  assert.is(r.indices.length, 60);
  assert.equal(r.perTarget, [15, 15, 15, 15, 0, 0, 0, 0, 0, 0]);
  assert.is(new Set(r.indices).size, 60);
  r.indices.forEach((n, k) => {
    assert.is.not(r.oldLabels[k], r.newLabels[k]);
    const t = r.newLabels[k]!;
    const at = n * 48 + (t * 4 + t) * 3;
    assert.equal(Array.from(r.set.images.subarray(at, at + 3)), [0, 255, 0], `image ${n} carries the trigger of class ${t}`);
  });
  const random = poisonTrainingSet(clean, { mode: 'per-target', rate: 0.1, seed: 3, triggers: 'random' });
  const positions = new Set(random.spec.triggers!.map((t) => `${t!.row},${t!.col}`));
  assert.is(positions.size, 10, 'random per-target triggers at distinct positions');
});

test('rate 0 gives a byte-exact clean copy and still a trigger spec', () => {
  const clean = flatSet();
  const r = poisonTrainingSet(clean, { mode: 'all-to-one', rate: 0, seed: 1, trigger: 'random', target: 5 });
  assert.is(r.indices.length, 0);
  assert.equal(r.set.images, clean.images);
  assert.equal(r.set.labels, clean.labels);
  assert.ok(r.spec.trigger && r.spec.trigger.row < 4 && r.spec.trigger.col < 4);
});

test('configuration errors are explained', () => {
  assert.throws(() => poisonTrainingSet(flatSet(), { mode: 'all-to-one', rate: 0.1, seed: 1, trigger, target: 3, sources: [3, 4] }), /sources must not contain the target class 3/);
  assert.throws(() => poisonTrainingSet(flatSet(), { mode: 'all-to-one', rate: 0.1, seed: 1, trigger: { row: 4, col: 0, color: [0, 0, 0] }, target: 3 }), /trigger: trigger row 4 is outside the image/);
  assert.throws(() => poisonTrainingSet(flatSet(), { mode: 'all-to-one', rate: 1.5, seed: 1, trigger, target: 3 }), /rate must be a fraction within 0..1/);
  assert.throws(() => poisonTrainingSet(flatSet(), { mode: 'per-target', rate: 0.1, seed: 1, triggers: [trigger] }), /must list 10 entries/);
});

test('attacksFor lists what evaluate stamps per true class', () => {
  assert.equal(attacksFor({ mode: 'all-to-one', trigger, target: 2, rate: 0.1, seed: 0 }, 5), [{ trigger, target: 2 }]);
  assert.equal(attacksFor({ mode: 'all-to-one', trigger, target: 2, rate: 0.1, seed: 0 }, 2), []);
  assert.equal(attacksFor({ mode: 'all-to-all', trigger, rate: 0.1, seed: 0 }, 9), [{ trigger, target: 0 }]);
  const triggers = Array.from({ length: 10 }, (_, t) => ({ row: t, col: 0, color: [1, 1, 1] as [number, number, number] }));
  const perTarget = attacksFor({ mode: 'per-target', triggers, rate: 0.1, seed: 0 }, 4);
  assert.equal(perTarget.map((a) => a.target), [0, 1, 2, 3, 5, 6, 7, 8, 9]);
});

test.run();
