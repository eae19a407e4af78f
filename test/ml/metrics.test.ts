import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accuracy, aggregateAttackOutcomes, type AttackOutcome } from '../../src/ml/metrics.js';

const near = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: expected ${expected}, got ${actual}`);

test('no attempts gives zero rates, not NaN', () => {
  const m = aggregateAttackOutcomes([]);
  assert.is(m.targetedSuccessRate, 0);
  assert.is(m.nonTargetedSuccessRate, 0);
  assert.is(m.targetedConfidence, 0);
  assert.is(m.nonTargetedConfidence, 0);
  assert.equal(m.targetClassHistogram, new Array(10).fill(0));
  assert.is(m.classPairs.length, 10);
  assert.ok(m.classPairs.every((row) => row.length === 10 && row.every((v) => v === 0)));
  assert.is(m.attemptedTargeted, 0);
  assert.is(m.attemptedImages, 0);
});

test('targeted attempts: rates, confidences, histogram and class pairs', () => {
  const o = (image: number, trueClass: number, target: number, predicted: number, probability: number): AttackOutcome =>
    ({ image, trueClass, target, predicted, probability });
  const outcomes: AttackOutcome[] = [
    // image 0 (class 3): reaches 5 and 7, fails toward 1 -> 2 targets
    o(0, 3, 5, 5, 0.9), o(0, 3, 7, 7, 0.7), o(0, 3, 1, 3, 0.8),
    // image 1 (class 0): reaches nothing, but one attempt lands on class 2 (non-targeted success)
    o(1, 0, 4, 0, 0.6), o(1, 0, 6, 2, 0.5),
    // image 2 (class 9): reaches 1; an attempt toward its own class is not counted
    o(2, 9, 1, 1, 0.4), o(2, 9, 9, 9, 0.99),
    // image 3 (class 8): nothing at all
    o(3, 8, 0, 8, 0.95),
  ];
  const m = aggregateAttackOutcomes(outcomes);
  assert.is(m.attemptedTargeted, 7);
  assert.is(m.attemptedImages, 4);
  near(m.targetedSuccessRate, 3 / 7, 'targeted rate');
  near(m.targetedConfidence, (0.9 + 0.7 + 0.4) / 3, 'targeted confidence');
  near(m.nonTargetedSuccessRate, 3 / 4, 'non-targeted rate');
  // best misclassifying probability per successful image: 0.9, 0.5, 0.4
  near(m.nonTargetedConfidence, (0.9 + 0.5 + 0.4) / 3, 'non-targeted confidence');
  assert.equal(m.targetClassHistogram, [2, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  const expectedPairs = Array.from({ length: 10 }, () => new Array(10).fill(0));
  expectedPairs[3][5] = 1;
  expectedPairs[3][7] = 1;
  expectedPairs[9][1] = 1;
  assert.equal(m.classPairs, expectedPairs);
});

test('non-targeted-only images: histogram counts distinct reached classes, pairs count at predicted', () => {
  const outcomes: AttackOutcome[] = [
    { image: 10, trueClass: 2, target: null, predicted: 4, probability: 0.6 },
    { image: 10, trueClass: 2, target: null, predicted: 4, probability: 0.8 },
    { image: 10, trueClass: 2, target: null, predicted: 5, probability: 0.3 },
    { image: 11, trueClass: 6, target: null, predicted: 6, probability: 0.9 },
  ];
  const m = aggregateAttackOutcomes(outcomes);
  assert.is(m.attemptedTargeted, 0);
  assert.is(m.targetedSuccessRate, 0);
  assert.is(m.attemptedImages, 2);
  near(m.nonTargetedSuccessRate, 0.5, 'non-targeted rate');
  near(m.nonTargetedConfidence, 0.8, 'non-targeted confidence');
  assert.equal(m.targetClassHistogram, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(m.classPairs[2]![4], 2);
  assert.is(m.classPairs[2]![5], 1);
  assert.is(m.classPairs.flat().reduce((a, b) => a + b, 0), 3);
});

test('all nine targets reached lands in histogram bin 9; numClasses sizes the outputs', () => {
  const outcomes: AttackOutcome[] = [];
  for (let t = 1; t < 10; t++) outcomes.push({ image: 0, trueClass: 0, target: t, predicted: t, probability: 1 });
  const m = aggregateAttackOutcomes(outcomes);
  assert.is(m.targetClassHistogram[9], 1);
  assert.is(m.targetedSuccessRate, 1);
  assert.equal(m.classPairs[0], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const small = aggregateAttackOutcomes([{ image: 0, trueClass: 0, target: 1, predicted: 1, probability: 0.5 }], 3);
  assert.is(small.targetClassHistogram.length, 3);
  assert.equal(small.classPairs, [[0, 1, 0], [0, 0, 0], [0, 0, 0]]);
});

test('out-of-range classes and inconsistent true classes are rejected', () => {
  assert.throws(() => aggregateAttackOutcomes([{ image: 0, trueClass: 10, target: 1, predicted: 1, probability: 1 }]), /true class 10/);
  assert.throws(() => aggregateAttackOutcomes([{ image: 0, trueClass: 1, target: 1, predicted: -1, probability: 1 }]), /predicted class -1/);
  assert.throws(
    () => aggregateAttackOutcomes([
      { image: 4, trueClass: 1, target: 2, predicted: 2, probability: 1 },
      { image: 4, trueClass: 3, target: 2, predicted: 2, probability: 1 },
    ]),
    /image 4 has true class 3 and 1/,
  );
});

test('accuracy: overall and per class, empty classes are 0', () => {
  const labels = [0, 0, 1, 1, 1, 2];
  const predicted = [0, 1, 1, 1, 0, 2];
  const acc = accuracy(predicted, Uint8Array.from(labels), 4);
  near(acc.overall, 4 / 6, 'overall');
  near(acc.perClass[0]!, 0.5, 'class 0');
  near(acc.perClass[1]!, 2 / 3, 'class 1');
  assert.is(acc.perClass[2], 1);
  assert.is(acc.perClass[3], 0);
  assert.equal(accuracy([], []), { overall: 0, perClass: new Array(10).fill(0) });
  assert.throws(() => accuracy([1, 2], [1]), /2 predictions for 1 labels/);
});

test.run();
