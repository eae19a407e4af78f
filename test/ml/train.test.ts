import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from '../../src/common/paths.js';
import { drawAugment, writeAugmentedImage } from '../../src/ml/augment.js';
import { imageBatch } from '../../src/ml/batches.js';
import type { ImageSet } from '../../src/ml/dataset.js';
import { buildModel } from '../../src/ml/models/index.js';
import { createRng } from '../../src/ml/rng.js';
import { learningRateAt } from '../../src/ml/schedule.js';
import { freezeLayersUpTo, splitIndices, trainModel, type TrainOptions } from '../../src/ml/train.js';
import { colourSet as colourSetOf, COLOUR_SET_SIDE } from '../helpers/colour-set.js';

const SIDE = COLOUR_SET_SIDE;
const CLASSES = 3;

const colourSet = (count: number, seed: number): ImageSet => colourSetOf(count, seed, 30);

const tinyModel = (seed = 1): tf.LayersModel => buildModel('cnn', { width: 0.125, numClasses: CLASSES, inputShape: [SIDE, SIDE, 3], seed });
const baseOpts: TrainOptions = { epochs: 3, batchSize: 16, optimizer: 'adam', learningRate: 0.01, seed: 4 };
const flatWeights = (m: tf.LayersModel): number[] => m.getWeights().flatMap((t) => Array.from(t.dataSync()));

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bdlab-train-'));
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('loss falls and accuracy rises on a learnable colour task; validation is scored', async () => {
  const model = tinyModel();
  const progress: number[] = [];
  const timings: { seconds: number; imagesPerSecond: number }[] = [];
  const history = await trainModel(model, colourSet(96, 1), {
    ...baseOpts, epochs: 4, validationSplit: 0.25, onProgress: (p) => progress.push(p.loss), onEpoch: (_r, t) => timings.push(t),
  });
  const e = history.epochs;
  assert.is(e.length, 4);
  assert.equal(e.map((r) => r.epoch), [1, 2, 3, 4]);
  assert.ok(e[3]!.loss < e[0]!.loss * 0.5, `loss ${e[0]!.loss} -> ${e[3]!.loss}`);
  assert.ok(e[3]!.accuracy > 0.9, `final accuracy ${e[3]!.accuracy}`);
  assert.ok(e[3]!.valAccuracy !== undefined && e[3]!.valAccuracy > 0.9, `val accuracy ${e[3]!.valAccuracy}`);
  assert.ok(timings.length === 4 && timings.every((t) => t.imagesPerSecond > 0 && t.seconds > 0), 'timing reaches onEpoch');
  assert.ok(e.every((r) => !('seconds' in r) && !('imagesPerSecond' in r)), 'the history (a content-addressed output) holds no timing');
  assert.ok(progress.length >= 4, 'at least one progress report per epoch');
  assert.is(history.model, 'cnn');
  model.dispose();
});

test('same seed gives the same weights after an epoch; another seed does not', async () => {
  const set = colourSet(48, 2);
  const opts: TrainOptions = { ...baseOpts, epochs: 1, augment: { crop_padding: 1, flip: true }, weightDecay: 1e-3, validationSplit: 0.2 };
  const run = async (seed: number): Promise<number[]> => {
    const m = tinyModel();
    await trainModel(m, set, { ...opts, seed });
    const w = flatWeights(m);
    m.dispose();
    return w;
  };
  const a = await run(9);
  const b = await run(9);
  const c = await run(10);
  assert.equal(a, b);
  assert.not.equal(a, c);
});

test('no tensor leaks across epochs (sgd + momentum, weight decay, augmentation, validation)', async () => {
  const model = tinyModel();
  const set = colourSet(40, 3);
  const opts: TrainOptions = {
    ...baseOpts, optimizer: 'sgd', momentum: 0.9, learningRate: 0.05, weightDecay: 5e-4,
    augment: { crop_padding: 2, flip: true }, validationSplit: 0.2, schedule: { type: 'cosine' },
  };
  await trainModel(model, set, { ...opts, epochs: 1 });
  const after1 = tf.memory().numTensors;
  await trainModel(model, set, { ...opts, epochs: 3 });
  assert.is(tf.memory().numTensors, after1);
  model.dispose();
});

const RESUME_CASES: [string, Partial<TrainOptions>][] = [
  ['adam', { optimizer: 'adam', learningRate: 0.01 }],
  ['adam + augmentation + cosine schedule', { optimizer: 'adam', learningRate: 0.01, augment: { crop_padding: 2, flip: true }, schedule: { type: 'cosine' } }],
  ['sgd + momentum', { optimizer: 'sgd', momentum: 0.9, learningRate: 0.05 }],
  ['sgd + momentum + augmentation + step schedule', { optimizer: 'sgd', momentum: 0.9, learningRate: 0.05, augment: { flip: true }, schedule: { type: 'step', step_size: 2, gamma: 0.5 } }],
];

for (const [label, variant] of RESUME_CASES) {
  test(`${label}: a training aborted after epoch 2 of 4 and resumed ends bit-identical to an uninterrupted one`, async () => {
    const dir = tempDir();
    try {
      const set = colourSet(48, 5);
      // Batches of 4: 24 Adam steps by epoch 2, where pow(beta, t + 1) and the running product differ in float32.
      const opts: TrainOptions = { ...baseOpts, epochs: 4, batchSize: 4, ...variant };
      const reference = tinyModel();
      const full = await trainModel(reference, set, opts);

      const controller = new AbortController();
      const first = tinyModel();
      let error: Error | undefined;
      await trainModel(first, set, {
        ...opts, checkpointDir: dir, signal: controller.signal,
        onEpoch: (r) => { if (r.epoch === 2) controller.abort(); },
      }).catch((e: Error) => { error = e; });
      assert.is(error?.name, 'AbortError');
      first.dispose();

      const resumed = tinyModel(99); // different init: the checkpoint must overwrite it
      const logs: string[] = [];
      const seen: number[] = [];
      const history = await trainModel(resumed, set, { ...opts, checkpointDir: dir, log: (l) => logs.push(l), onEpoch: (r) => seen.push(r.epoch) });
      assert.equal(seen, [3, 4], 'only the missing epochs run');
      assert.ok(logs.some((l) => /resuming from checkpoint after epoch 2/.test(l)), logs.join('\n'));
      assert.equal(history, full, 'identical history: losses, accuracies and learning rates to the last bit');
      assert.equal(flatWeights(resumed), flatWeights(reference), 'identical weights, bit for bit');
      assert.equal(readdirSync(dir).sort(), ['epoch-0004', 'latest.json']);
      reference.dispose();
      resumed.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a SIGKILLed training process resumes from its checkpoint and reaches the full epoch count', async () => {
  const dir = tempDir();
  try {
    const trainUrl = new URL('../../src/ml/train.js', import.meta.url).href;
    const modelsUrl = new URL('../../src/ml/models/index.js', import.meta.url).href;
    // The child trains 4 epochs of a task built from the same generator; it is killed after epoch 2 is reported.
    const script = `
      import * as tf from '@tensorflow/tfjs';
      const { trainModel } = await import(${JSON.stringify(trainUrl)});
      const { buildModel } = await import(${JSON.stringify(modelsUrl)});
      await tf.setBackend('cpu');
      const count = 48, side = ${SIDE};
      const images = new Uint8Array(count * side * side * 3), labels = new Uint8Array(count);
      for (let i = 0; i < count; i++) { labels[i] = i % 3; images.fill(40 + 80 * (i % 3), i * side * side * 3, (i + 1) * side * side * 3); }
      const set = { images, labels, count, height: side, width: side, channels: 3 };
      const model = buildModel('cnn', { width: 0.125, numClasses: 3, inputShape: [side, side, 3], seed: 1 });
      await trainModel(model, set, { epochs: 4, batchSize: 16, optimizer: 'adam', learningRate: 0.01, seed: 4,
        checkpointDir: ${JSON.stringify(dir)}, onEpoch: (r) => { process.stdout.write('epoch ' + r.epoch + '\\n'); } });
      process.stdout.write('done\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exit = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/epoch 2\n/.test(out)) { child.kill('SIGKILL'); resolve(); }
      });
      void exit.then(() => reject(new Error(`child ended before epoch 2: ${out}\n${stderr}`)));
    });
    assert.is(await exit, 'SIGKILL');
    assert.not.match(out, /done/);
    assert.ok(existsSync(join(dir, 'latest.json')));

    const count = 48;
    const images = new Uint8Array(count * SIDE * SIDE * 3);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) { labels[i] = i % 3; images.fill(40 + 80 * (i % 3), i * SIDE * SIDE * 3, (i + 1) * SIDE * SIDE * 3); }
    const model = tinyModel(1);
    const seen: number[] = [];
    const history = await trainModel(model, { images, labels, count, height: SIDE, width: SIDE, channels: 3 }, {
      epochs: 4, batchSize: 16, optimizer: 'adam', learningRate: 0.01, seed: 4, checkpointDir: dir, onEpoch: (r) => seen.push(r.epoch),
    });
    // the kill lands after epoch 2 was reported (epoch 3 may have finished meanwhile): at most 2 epochs rerun
    assert.ok(seen.length >= 1 && seen.length <= 2 && seen[seen.length - 1] === 4, `resumed epochs ${seen.join(',')}`);
    assert.equal(history.epochs.map((r) => r.epoch), [1, 2, 3, 4]);
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint written with other options is not resumed', async () => {
  const dir = tempDir();
  try {
    const set = colourSet(24, 6);
    const m = tinyModel();
    await trainModel(m, set, { ...baseOpts, epochs: 1, checkpointDir: dir });
    const logs: string[] = [];
    const history = await trainModel(m, set, { ...baseOpts, epochs: 1, seed: 77, checkpointDir: dir, log: (l) => logs.push(l) });
    assert.is(history.epochs.length, 1);
    assert.ok(logs.some((l) => /other options/.test(l)));
    m.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('freezeUpTo keeps the frozen layers fixed, trains the rest, restores the trainable flags', async () => {
  const model = tinyModel();
  const flags = model.layers.map((l) => l.trainable);
  const frozen = ['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2'];
  const before = new Map(model.layers.map((l) => [l.name, l.getWeights().map((t) => Array.from(t.dataSync()))]));
  await trainModel(model, colourSet(32, 7), { ...baseOpts, epochs: 1, freezeUpTo: 'block2_pool' });
  for (const l of model.layers) {
    const now = l.getWeights().map((t) => Array.from(t.dataSync()));
    if (now.length === 0) continue;
    if (frozen.includes(l.name)) assert.equal(now, before.get(l.name), `${l.name} stays frozen`);
    else assert.not.equal(now, before.get(l.name), `${l.name} trains`);
  }
  assert.equal(model.layers.map((l) => l.trainable), flags, 'trainable flags restored');
  assert.throws(() => freezeLayersUpTo(model, 'block9_conv1'), /no layer "block9_conv1"; valid layer names are: image, block1_conv1, block1_conv2, block1_pool/);
  model.dispose();
});

test('batch norm: moving statistics update while training; a frozen batch-norm layer keeps them', async () => {
  const model = buildModel('resnet34', { width: 0.0625, numClasses: CLASSES, inputShape: [SIDE, SIDE, 3], seed: 2 });
  const values = (layer: string): number[] => model.getLayer(layer).getWeights().flatMap((t) => Array.from(t.dataSync()));
  const stem = values('stem_bn');
  const late = values('stage4_block3_bn2');
  await trainModel(model, colourSet(8, 10), { ...baseOpts, epochs: 1, batchSize: 8, freezeUpTo: 'stage1_block3_out' });
  assert.equal(values('stem_bn'), stem, 'frozen BN (gamma, beta, moving mean, moving variance) unchanged');
  const lateAfter = values('stage4_block3_bn2');
  const channels = lateAfter.length / 4;
  // weights are [gamma, beta, moving_mean, moving_variance]: the moving mean must have left zero
  assert.not.equal(lateAfter.slice(2 * channels, 3 * channels), late.slice(2 * channels, 3 * channels));
  model.dispose();
});

test('a model without a logits layer trains from its softmax output (clipped cross-entropy)', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.flatten({ inputShape: [SIDE, SIDE, 3] }),
    tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
  ] });
  const history = await trainModel(model, colourSet(48, 11), { ...baseOpts, epochs: 3 });
  assert.ok(history.epochs[2]!.loss < history.epochs[0]!.loss, history.epochs.map((e) => e.loss).join(' > '));
  model.dispose();
});

test('augmentation: flip mirrors columns, crop shifts with zero fill, pixel values scaled to [0,1]', () => {
  // 2x3 image, 1 channel: values 1..6 row-major
  const src = Uint8Array.from([1, 2, 3, 4, 5, 6]);
  const out = new Float32Array(6);
  writeAugmentedImage(src, 0, 2, 3, 1, { dy: 0, dx: 0, flip: true }, out, 0);
  assert.equal(Array.from(out, (v) => Math.round(v * 255)), [3, 2, 1, 6, 5, 4]);
  writeAugmentedImage(src, 0, 2, 3, 1, { dy: 1, dx: -1, flip: false }, out, 0);
  assert.equal(Array.from(out, (v) => Math.round(v * 255)), [0, 4, 5, 0, 0, 0]);
  writeAugmentedImage(src, 0, 2, 3, 1, { dy: 0, dx: 1, flip: true }, out, 0);
  // flipped row [3,2,1] then shifted by one column towards the source's right edge: [0,3,2]
  assert.equal(Array.from(out, (v) => Math.round(v * 255)), [0, 3, 2, 0, 6, 5]);
  // a one-pixel trigger moves with the crop: this is why augmentation weakens the backdoor
  const trigger = new Uint8Array(4 * 4 * 3);
  trigger.set([255, 0, 255], (1 * 4 + 2) * 3);
  const t = new Float32Array(48);
  writeAugmentedImage(trigger, 0, 4, 4, 3, { dy: -1, dx: 1, flip: false }, t, 0);
  assert.equal(Array.from(t.slice((2 * 4 + 1) * 3, (2 * 4 + 1) * 3 + 3)), [1, 0, 1]);
  const rng = createRng(1);
  const draws = Array.from({ length: 400 }, () => drawAugment({ crop_padding: 2, flip: true }, rng));
  assert.ok(draws.every((d) => Math.abs(d.dy) <= 2 && Math.abs(d.dx) <= 2));
  assert.equal(new Set(draws.map((d) => d.dx)).size, 5);
  const flips = draws.filter((d) => d.flip).length;
  assert.ok(flips > 150 && flips < 250, `flips ${flips}/400`);
  assert.equal(drawAugment(undefined, rng), { dy: 0, dx: 0, flip: false });
});

test('imageBatch builds a [n,H,W,C] float tensor of the chosen images', () => {
  const set = colourSet(6, 8);
  const batch = imageBatch(set, [4, 1]);
  assert.equal(batch.shape, [2, SIDE, SIDE, 3]);
  const data = batch.dataSync();
  assert.ok(Math.abs(data[0]! - set.images[4 * SIDE * SIDE * 3]! / 255) < 1e-7);
  assert.ok(Math.abs(data[SIDE * SIDE * 3]! - set.images[1 * SIDE * SIDE * 3]! / 255) < 1e-7);
  batch.dispose();
});

test('learning-rate schedules and the seeded validation split', () => {
  assert.is(learningRateAt(0.1, 5, 10, { type: 'constant' }), 0.1);
  assert.equal([0, 1, 2, 3, 4].map((e) => learningRateAt(0.1, e, 5, { type: 'step', step_size: 2, gamma: 0.5 })), [0.1, 0.1, 0.05, 0.05, 0.025]);
  assert.is(learningRateAt(0.1, 0, 4, { type: 'cosine' }), 0.1);
  assert.ok(Math.abs(learningRateAt(0.1, 2, 4, { type: 'cosine' }) - 0.05) < 1e-12);
  const a = splitIndices(100, 0.2, 3);
  const b = splitIndices(100, 0.2, 3);
  assert.is(a.val.length, 20);
  assert.is(a.train.length, 80);
  assert.equal(Array.from(a.val), Array.from(b.val));
  assert.is(new Set([...a.train, ...a.val]).size, 100);
  assert.not.equal(Array.from(splitIndices(100, 0.2, 4).val), Array.from(a.val));
});

test('invalid options are refused before training', async () => {
  const m = tinyModel();
  const set = colourSet(8, 9);
  await trainModel(m, set, { ...baseOpts, epochs: 0 }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /epochs must be an integer >= 1/));
  await trainModel(m, set, { ...baseOpts, validationSplit: 1 }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /validationSplit must be in \[0, 1\)/));
  m.dispose();
});

test.run();
