import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initEngine } from '../../src/engine/index.js';
import type { TriggerSpec } from '../../src/ml/artifacts.js';
import { CIFAR10_CLASSES, writeDataset, type ImageSet } from '../../src/ml/dataset.js';
import { saveModel } from '../../src/ml/model-io.js';
import { applyTrigger } from '../../src/ml/trigger.js';
import { shiftTrigger } from '../../src/ml/trigger-shift.js';
import { StageError } from '../../src/common/stage-contract.js';
import stage, { evaluateBackdoor, type BatchPredictor } from '../../src/stages/evaluate.js';
import { testStageContext, testStageInput } from '../helpers/cifar-fixture.js';

/**
 * Test images of class k: black, with a green pixel at (0, k). A "model" reads that pixel; a red
 * trigger pixel at (31, 31) overrides it, except for class 9, whose evidence is stronger.
 * Class 5's evidence points to class 6, so clean accuracy is 90%.
 */
const TRIGGER = { row: 31, col: 31, color: [255, 0, 0] as [number, number, number] };
function testSet(count = 20): ImageSet {
  const images = new Uint8Array(count * 3072);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  labels.forEach((k, i) => (images[i * 3072 + k * 3 + 1] = 255));
  return { images, labels, count, height: 32, width: 32, channels: 3 };
}
const greenPixel = (k: number): number => k * 3 + 1;
const triggerRed = (31 * 32 + 31) * 3;

function logitsFor(image: Uint8Array, offset: number, triggerTarget: number): number[] {
  const logits = new Array(10).fill(0);
  for (let k = 0; k < 10; k++) {
    if (image[offset + greenPixel(k)]! > 128) logits[k === 5 ? 6 : k] += k === 9 ? 40 : 10;
  }
  if (image[offset + triggerRed]! > 128) logits[triggerTarget] += 30;
  return logits;
}
const softmax = (logits: number[]): number[] => {
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const jsPredictor = (triggerTarget: number): BatchPredictor => async (batch) =>
  Float32Array.from(Array.from({ length: batch.count }, (_, i) => softmax(logitsFor(batch.images, i * 3072, triggerTarget))).flat());

const allToOne: TriggerSpec = { mode: 'all-to-one', trigger: TRIGGER, target: 0, rate: 0.1, seed: 0 };

test('evaluateBackdoor: clean accuracy, targeted / non-targeted success, histogram, pairs', async () => {
  const r = await evaluateBackdoor(jsPredictor(0), testSet(), allToOne, { batchSize: 7, numClasses: 10 });
  const m = r.metrics;
  assert.is(m.cleanAccuracy, 0.9);
  assert.is(m.perClassAccuracy![5], 0);
  assert.is(m.perClassAccuracy![6], 1);
  assert.is(m.attemptedTargeted, 18);
  assert.is(m.attemptedImages, 18);
  assert.is(m.targetedSuccessRate, 16 / 18);
  assert.is(m.nonTargetedSuccessRate, 16 / 18);
  assert.equal(m.targetClassHistogram, [2, 16, 0, 0, 0, 0, 0, 0, 0, 0]);
  for (let k = 1; k <= 8; k++) assert.is(m.classPairs[k]![0], 2);
  assert.is(m.classPairs[9]![0], 0);
  assert.ok(m.targetedConfidence > 0.99 && m.targetedConfidence <= 1);
});

test('evaluateBackdoor: onlyCorrect skips the misclassified class-5 images', async () => {
  const m = (await evaluateBackdoor(jsPredictor(0), testSet(), allToOne, { batchSize: 20, numClasses: 10, onlyCorrect: true })).metrics;
  assert.is(m.attemptedTargeted, 16);
  assert.is(m.targetedSuccessRate, 14 / 16);
  assert.is(m.cleanAccuracy, 0.9);
});

test('evaluateBackdoor: per-target stamps every other class trigger on every image', async () => {
  // Trigger of class t: red pixel at (31, t); the predictor sends red at (31, t) to class t (a perfect backdoor)
  const triggers = Array.from({ length: 10 }, (_, t) => ({ row: 31, col: t, color: [255, 0, 0] as [number, number, number] }));
  const predictor: BatchPredictor = async (batch) => Float32Array.from(Array.from({ length: batch.count }, (_, i) => {
    const logits = logitsFor(batch.images, i * 3072, 0).map(() => 0);
    for (let t = 0; t < 10; t++) if (batch.images[i * 3072 + (31 * 32 + t) * 3]! > 128) logits[t] += 50;
    logits[batch.labels[i]!] += 1;
    return softmax(logits);
  }).flat());
  const m = (await evaluateBackdoor(predictor, testSet(10), { mode: 'per-target', triggers, rate: 0.1, seed: 0 }, { batchSize: 4, numClasses: 10 })).metrics;
  assert.is(m.attemptedTargeted, 90);
  assert.is(m.targetedSuccessRate, 1);
  assert.equal(m.targetClassHistogram, [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]);
  assert.ok(m.classPairs.every((row, c) => row.every((v, t) => v === (c === t ? 0 : 1))));
});

let root = '';
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bdlab-evaluate-stage-'));
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The same rule as jsPredictor as a real Layers model (inputs scaled to [0,1]): flatten -> dense softmax with fixed weights. */
async function writeHandMadeModel(dir: string): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [32, 32, 3] }), tf.layers.dense({ units: 10, activation: 'softmax', useBias: false })] });
  const kernel = new Float32Array(3072 * 10);
  for (let k = 0; k < 10; k++) kernel[greenPixel(k) * 10 + (k === 5 ? 6 : k)] = k === 9 ? 40 : 10;
  kernel[triggerRed * 10 + 0] = 30;
  const weights = tf.tensor2d(kernel, [3072, 10]);
  model.layers[1]!.setWeights([weights]);
  weights.dispose();
  await saveModel(model, join(dir, 'model'));
  model.dispose();
}

test('evaluate stage on a hand-made model: metrics.json, CSVs and headline metrics', async () => {
  const trainDir = join(root, 'train');
  const poisonDir = join(root, 'poison');
  await initEngine('cpu');
  await writeHandMadeModel(trainDir);
  const tensorsBefore = tf.memory().numTensors;
  const set = testSet();
  await writeDataset(poisonDir, { name: 'fixture', classes: [...CIFAR10_CLASSES], height: 32, width: 32, channels: 3 }, { train: set, test: set });
  await writeFile(join(poisonDir, 'trigger.json'), JSON.stringify(allToOne));
  const outDir = join(root, 'out');
  await mkdir(outDir);
  const ctx = testStageContext(outDir, join(root, 'scratch'), { inputs: [testStageInput(trainDir, 'train'), testStageInput(poisonDir, 'poison')] });
  const result = await stage.run({ batch_size: 8 }, ctx);
  assert.is(ctx.backends.length, 1);
  assert.is(ctx.backends[0]!.name, 'cpu');
  const headline = result.metrics as Record<string, number>;
  assert.ok(Math.abs(headline.cleanAccuracy! - 0.9) < 1e-9);
  assert.ok(Math.abs(headline.targetedSuccessRate! - 16 / 18) < 1e-9);
  assert.is(headline.images, 20);
  const metrics = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8'));
  assert.equal(metrics.targetClassHistogram, [2, 16, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(metrics.model, 'train-input');
  assert.equal(metrics.trigger.trigger, TRIGGER);
  const perClass = (await readFile(join(outDir, 'per-class.csv'), 'utf8')).trim().split('\n');
  assert.is(perClass.length, 11);
  assert.is(perClass[6], '5,dog,2,0,2,2,1,1');
  assert.is(perClass[10], '9,truck,2,1,2,2,0,0');
  const pairs = (await readFile(join(outDir, 'class-pairs.csv'), 'utf8')).trim().split('\n');
  assert.is(pairs[2], '1 automobile,2,0,0,0,0,0,0,0,0,0');
  const predictions = (await readFile(join(outDir, 'predictions.csv'), 'utf8')).trim().split('\n');
  assert.is(predictions.length, 1 + 20 + 18);
  assert.match(predictions[6]!, /^5,5,clean,,6,/);
  assert.is(tf.memory().numTensors, tensorsBefore, 'no tensors leaked');

  const limited = join(root, 'out-limited');
  await mkdir(limited);
  const r2 = await stage.run({ limit: 10 }, testStageContext(limited, join(root, 's2'), { inputs: ctx.inputs }));
  assert.is((r2.metrics as Record<string, number>).images, 10);
  assert.ok(Math.abs((r2.metrics as Record<string, number>).targetedSuccessRate! - 8 / 9) < 1e-9);
});

test('evaluate without a trigger input fails with a StageError', async () => {
  const outDir = join(root, 'out-bad');
  await mkdir(outDir);
  try {
    await stage.run({}, testStageContext(outDir, outDir, { inputs: [testStageInput(join(root, 'train'), 'train')] }));
    assert.unreachable();
  } catch (error) {
    assert.instance(error, StageError);
    assert.match((error as Error).message, /needs exactly one dataset input with a trigger.json/);
  }
});

test('trigger_shift stamps the trigger exactly k pixels away: only the shift that lands on (31, 31) fires the hand-made backdoor', async () => {
  // trigger.json says (31, 28); the model reacts to red at (31, 31) only, so col shift 3 (and only 3) succeeds.
  const poisonDir = join(root, 'poison-shift');
  const set = testSet();
  await writeDataset(poisonDir, { name: 'fixture', classes: [...CIFAR10_CLASSES], height: 32, width: 32, channels: 3 }, { train: set, test: set });
  await writeFile(join(poisonDir, 'trigger.json'), JSON.stringify({ ...allToOne, trigger: { ...TRIGGER, col: 28 } }));
  const inputs = [testStageInput(join(root, 'train'), 'train'), testStageInput(poisonDir, 'poison')];
  const success: number[] = [];
  for (const k of [0, 1, 2, 3]) {
    const outDir = join(root, `out-shift-${k}`);
    await mkdir(outDir);
    const result = await stage.run({ trigger_shift: { col: k } }, testStageContext(outDir, join(root, `s-shift-${k}`), { inputs }));
    success.push((result.metrics as Record<string, number>).targetedSuccessRate!);
    const metrics = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8'));
    assert.equal(metrics.trigger.trigger, { ...TRIGGER, col: 28 + k }, 'the stamped position is recorded');
    assert.equal(metrics.triggerShift, { row: 0, col: k });
  }
  assert.equal(success, [0, 0, 0, 16 / 18]);
});

test('trigger_shift that leaves the image fails the stage naming the param and the shifts that fit', async () => {
  const outDir = join(root, 'out-shift-out');
  await mkdir(outDir);
  const inputs = [testStageInput(join(root, 'train'), 'train'), testStageInput(join(root, 'poison-shift'), 'poison')];
  try {
    await stage.run({ trigger_shift: { row: 1, col: 4 } }, testStageContext(outDir, join(root, 's-out'), { inputs }));
    assert.unreachable();
  } catch (error) {
    assert.instance(error, StageError);
    assert.match((error as Error).message, 'params.trigger_shift {row: 1, col: 4} is invalid: the shift moves the trigger pixel at (row 31, col 28) outside the 32x32 image: row 31 + 1 = 32 (row shifts that fit: -31..0), col 28 + 4 = 32 (col shifts that fit: -28..3)');
  }
});

test('shiftTrigger moves the stamped pixel by exactly k and nothing else changes', () => {
  const base = { row: 16, col: 16, color: [255, 0, 255] as [number, number, number] };
  for (const [dr, dc] of [[0, 0], [0, 1], [2, 0], [-3, 3], [0, -15], [15, 0]] as const) {
    const set = testSet(1);
    const before = set.images.slice();
    applyTrigger(set, 0, shiftTrigger(base, { row: dr, col: dc }, set));
    const changed = [...set.images.keys()].filter((i) => set.images[i] !== before[i]);
    const at = ((16 + dr) * 32 + (16 + dc)) * 3;
    assert.equal(changed, [at, at + 2], `shift (${dr}, ${dc})`);
  }
  assert.throws(() => shiftTrigger(base, { row: 0, col: 16 }, { height: 32, width: 32 }), /col 16 \+ 16 = 32 \(col shifts that fit: -16\.\.15\)/);
  assert.throws(() => shiftTrigger(base, { row: -17, col: 0 }, { height: 32, width: 32 }), /row 16 \+ -17 = -1/);
});

test.run();
