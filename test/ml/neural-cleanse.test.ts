import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initEngine } from '../../src/engine/index.js';
import { imageBatch } from '../../src/ml/batches.js';
import { imageSize, type ImageSet } from '../../src/ml/dataset.js';
import { anomalyReport, MAD_CONSISTENCY } from '../../src/ml/defence/anomaly.js';
import { logitsModel, neuralCleanse, reverseTrigger, type ReverseOptions } from '../../src/ml/defence/neural-cleanse.js';
import { unlearningSet } from '../../src/ml/defence/unlearn.js';
import { buildModel } from '../../src/ml/models/index.js';
import { poisonTrainingSet } from '../../src/ml/poison.js';
import { trainModel } from '../../src/ml/train.js';
import { applyTrigger } from '../../src/ml/trigger.js';
import { HUE_CLASSES, HUE_SIDE, hueTask, PLANTED, PLANTED_TARGET } from '../helpers/hue-task.js';

const SIDE = HUE_SIDE;
const CLASSES = HUE_CLASSES;
const TARGET = PLANTED_TARGET;

/**
 * 40 passes: the mask starts nearly empty and first grows wherever it helps (at 20 passes the best
 * mask of the planted class still spread |m|_1 = 7.8 over most of the image, its largest value on a
 * neighbour of the planted pixel); lambda's rises then shrink it to the one pixel (|m|_1 = 1.0 by
 * pass 40).
 */
const OPTIONS: ReverseOptions = {
  steps: 40, batchSize: 50, learningRate: 0.1, initialCost: 1e-3, attackThreshold: 0.99, patience: 3, costMultiplier: 1.5,
  earlyStop: true, earlyStopPatience: 6, seed: 7,
};

/** Share of the non-target images that the planted pixel sends to the target. */
async function plantedSuccess(model: tf.LayersModel, test: ImageSet): Promise<number> {
  const size = imageSize(test);
  const others = Array.from({ length: test.count }, (_, i) => i).filter((i) => test.labels[i] !== TARGET);
  const stamped: ImageSet = { ...test, count: others.length, images: new Uint8Array(others.length * size), labels: new Uint8Array(others.length) };
  others.forEach((source, i) => {
    stamped.images.set(test.images.subarray(source * size, (source + 1) * size), i * size);
    applyTrigger(stamped, i, PLANTED);
  });
  const predicted = tf.tidy(() => (model.predict(imageBatch(stamped, others.map((_, i) => i))) as tf.Tensor2D).argMax(-1).dataSync());
  return predicted.filter((p) => p === TARGET).length / others.length;
}

const train = hueTask(1000, 1);
const testSet = hueTask(200, 2);
let backdoored: tf.LayersModel;
let clean: tf.LayersModel;

async function trained(set: ImageSet): Promise<tf.LayersModel> {
  const model = buildModel('cnn', { width: 0.25, numClasses: CLASSES, inputShape: [SIDE, SIDE, 3], seed: 3 });
  await trainModel(model, set, { epochs: 8, batchSize: 32, optimizer: 'adam', learningRate: 0.003, seed: 5 });
  return model;
}

test.before(async () => {
  await initEngine('auto');
  const poisoned = poisonTrainingSet(train, { mode: 'all-to-one', rate: 0.15, seed: 1, trigger: PLANTED, target: TARGET, triggers: 'random', numClasses: CLASSES });
  backdoored = await trained(poisoned.set);
  clean = await trained(train);
});

test.after(() => {
  backdoored.dispose();
  clean.dispose();
});

test('anomaly index and MAD on hand-made norms: the one small norm is flagged, a large one is not', () => {
  // Sorted: 2 9 9.5 10 10 10 10.5 11 11.5 12 -> median 10; deviations sorted 0 0 0 .5 .5 1 1 1.5 2 8 -> median 0.75.
  const report = anomalyReport([10, 11, 9, 10.5, 2, 12, 9.5, 10, 11.5, 10]);
  assert.is(report.median, 10);
  assert.ok(Math.abs(report.mad - MAD_CONSISTENCY * 0.75) < 1e-12);
  assert.ok(Math.abs(report.anomalyIndex[4]! - 8 / (1.4826 * 0.75)) < 1e-9, `index ${report.anomalyIndex[4]}`);
  assert.ok(Math.abs(report.anomalyIndex[5]! - 2 / (1.4826 * 0.75)) < 1e-9);
  assert.equal(report.flagged, [4]);
  assert.is(report.mostAnomalous, 4);
  // Above the median never counts, however far out; an odd count takes the middle value.
  const high = anomalyReport([10, 10.5, 9.5, 40, 10]);
  assert.is(high.median, 10);
  assert.equal(high.flagged, []);
  assert.is(high.mostAnomalous, 2);
  // All equal: MAD 0, nothing anomalous.
  assert.equal(anomalyReport([3, 3, 3]).anomalyIndex, [0, 0, 0]);
});

test('the planted one-pixel backdoor works and the clean model ignores the pixel (preconditions)', async () => {
  const onBackdoored = await plantedSuccess(backdoored, testSet);
  const onClean = await plantedSuccess(clean, testSet);
  assert.ok(onBackdoored > 0.9, `planted trigger success on the backdoored model ${onBackdoored}`);
  assert.ok(onClean < 0.1, `planted trigger success on the clean model ${onClean}`);
});

test('Neural Cleanse flags the backdoored class, its mask peaks on the planted pixel', async () => {
  const result = await neuralCleanse(backdoored, testSet, CLASSES, OPTIONS);
  const norms = result.triggers.map((t) => t.norm.toFixed(2)).join(', ');
  assert.ok(result.anomaly.flagged.includes(TARGET), `flagged ${JSON.stringify(result.anomaly.flagged)}; norms ${norms}`);
  assert.ok(result.anomaly.anomalyIndex[TARGET]! > 2, `anomaly index ${result.anomaly.anomalyIndex[TARGET]}; norms ${norms}`);
  // The largest mask value sits exactly on the planted pixel.
  const mask = result.triggers[TARGET]!.mask;
  const peak = mask.indexOf(Math.max(...mask));
  assert.equal([Math.floor(peak / SIDE), peak % SIDE], [PLANTED.row, PLANTED.col], `mask peak at pixel ${peak}, planted (${PLANTED.row}, ${PLANTED.col})`);
  // And it is that pixel alone: everything else in the mask adds up to less than half a pixel.
  const elsewhere = result.triggers[TARGET]!.norm - mask[peak]!;
  assert.ok(mask[peak]! > 0.9 && elsewhere < 0.5, `mask peak ${mask[peak]}, rest of the mask ${elsewhere}`);
  // And that mask is a small fraction of what the other classes need.
  assert.ok(result.triggers[TARGET]!.norm < result.anomaly.median / 4, `planted class mask L1 ${result.triggers[TARGET]!.norm}, median ${result.anomaly.median}`);
  assert.ok(result.triggers[TARGET]!.attackSuccess > 0.9, `reversed trigger success ${result.triggers[TARGET]!.attackSuccess}`);
});

test('Neural Cleanse flags nothing on the model trained without the backdoor', async () => {
  const result = await neuralCleanse(clean, testSet, CLASSES, OPTIONS);
  assert.equal(result.anomaly.flagged, [], `norms ${result.triggers.map((t) => t.norm.toFixed(2)).join(', ')}, indices ${result.anomaly.anomalyIndex.map((i) => i.toFixed(2)).join(', ')}`);
});

test('same seed gives the identical reversed trigger and history; another seed does not', async () => {
  const net = logitsModel(backdoored);
  const short = { ...OPTIONS, steps: 4 };
  const a = await reverseTrigger(net, testSet, 1, short);
  const b = await reverseTrigger(net, testSet, 1, short);
  const c = await reverseTrigger(net, testSet, 1, { ...short, seed: 8 });
  assert.equal(b.history, a.history);
  assert.equal(Array.from(b.mask), Array.from(a.mask));
  assert.is(b.norm, a.norm);
  assert.is.not(c.norm, a.norm);
});

test('unlearning with the reversed trigger removes the backdoor and keeps the task', async () => {
  const result = await neuralCleanse(backdoored, testSet, CLASSES, OPTIONS);
  const flagged = result.anomaly.flagged.map((k) => result.triggers[k]!);
  assert.ok(flagged.length > 0);
  const { set, stamped } = unlearningSet(train, flagged, { fraction: 0.5, triggerFraction: 0.2, seed: 3 });
  assert.is(set.count, 500);
  assert.is(stamped.length, 100);
  const model = await trained(poisonTrainingSet(train, { mode: 'all-to-one', rate: 0.15, seed: 1, trigger: PLANTED, target: TARGET, triggers: 'random', numClasses: CLASSES }).set);
  const before = await plantedSuccess(model, testSet);
  await trainModel(model, set, { epochs: 2, batchSize: 32, optimizer: 'adam', learningRate: 0.001, seed: 9 });
  const after = await plantedSuccess(model, testSet);
  const accuracy = tf.tidy(() => {
    const predicted = (model.predict(imageBatch(testSet, Array.from({ length: testSet.count }, (_, i) => i))) as tf.Tensor2D).argMax(-1).dataSync();
    return predicted.filter((p, i) => p === testSet.labels[i]).length / testSet.count;
  });
  model.dispose();
  assert.ok(before > 0.9, `before unlearning ${before}`);
  assert.ok(after < 0.1, `after unlearning ${after}`);
  assert.ok(accuracy > 0.9, `clean accuracy after unlearning ${accuracy}`);
});

test.run();
