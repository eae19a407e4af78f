import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildModel, MODEL_NAMES } from '../../src/ml/models/index.js';
import { loadModel, saveModel } from '../../src/ml/model-io.js';

const trainableCount = (m: tf.LayersModel): number =>
  m.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
const names = (m: tf.LayersModel): string[] => m.layers.map((l) => l.name);

test.before(async () => {
  await tf.setBackend('cpu');
});

test('every model maps [N,32,32,3] to softmax probabilities [N,10]', () => {
  for (const name of MODEL_NAMES) {
    const model = buildModel(name, { width: name === 'lenet5' || name === 'cnn' ? 0.5 : 0.125, seed: 1 });
    const out = tf.tidy(() => model.predict(tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 7)) as tf.Tensor);
    assert.equal(out.shape, [3, 10], name);
    const rowSums = Array.from(out.sum(1).dataSync());
    for (const s of rowSums) assert.ok(Math.abs(s - 1) < 1e-5, `${name} rows sum to 1, got ${s}`);
    assert.is(model.layers[model.layers.length - 1]!.name, 'probabilities');
    assert.is(model.layers[model.layers.length - 2]!.name, 'logits');
    out.dispose();
    model.dispose();
  }
});

test('lenet5 has exactly the hand-computed 62,006 parameters and the classic layer sequence', () => {
  const m = buildModel('lenet5');
  // conv1 5*5*3*6+6, conv2 5*5*6*16+16, fc1 400*120+120, fc2 120*84+84, logits 84*10+10
  const expected = (5 * 5 * 3 * 6 + 6) + (5 * 5 * 6 * 16 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10);
  assert.is(expected, 62006);
  assert.is(m.countParams(), expected);
  assert.equal(names(m), ['image', 'conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'fc1', 'fc2', 'logits', 'probabilities']);
  assert.equal(m.getLayer('pool2').outputShape, [null, 5, 5, 16]);
  m.dispose();
});

test('cnn: conv32-conv32-pool-conv64-conv64-pool-dense512-dense10, parameter count by hand', () => {
  const m = buildModel('cnn');
  const expected = (3 * 3 * 3 * 32 + 32) + (3 * 3 * 32 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64)
    + (8 * 8 * 64 * 512 + 512) + (512 * 10 + 10);
  assert.is(m.countParams(), expected);
  for (const n of ['block1_conv1', 'block1_conv2', 'block1_pool', 'block2_conv1', 'block2_conv2', 'block2_pool', 'fc1']) {
    assert.ok(names(m).includes(n), `cnn has ${n}`);
  }
  m.dispose();
});

test('resnet34 (width 1): 33 residual-path convs, [3,4,6,3] blocks, 21.28M trainable parameters like the PyTorch CIFAR port', () => {
  const m = buildModel('resnet34');
  const layerNames = names(m);
  const convs = layerNames.filter((n) => /conv\d?$/.test(n) && !n.includes('shortcut'));
  assert.is(convs.length, 33);
  for (const [stage, blocks] of [[1, 3], [2, 4], [3, 6], [4, 3]] as const) {
    assert.ok(layerNames.includes(`stage${stage}_block${blocks}_out`));
    assert.not.ok(layerNames.includes(`stage${stage}_block${blocks + 1}_out`));
  }
  // projection shortcuts exactly where stride 2 changes the shape
  assert.equal(layerNames.filter((n) => n.endsWith('_shortcut_conv')), ['stage2_block1_shortcut_conv', 'stage3_block1_shortcut_conv', 'stage4_block1_shortcut_conv']);
  assert.equal(m.getLayer('stage4_block3_out').outputShape, [null, 4, 4, 512]);
  // Expected: conv kernels (no bias) + BN gamma/beta + dense, summed stage by stage.
  let expected = 3 * 3 * 3 * 64 + 2 * 64;
  let cin = 64;
  for (const [blocks, c] of [[3, 64], [4, 128], [6, 256], [3, 512]] as const) {
    for (let b = 0; b < blocks; b++) {
      expected += 3 * 3 * cin * c + 2 * c + 3 * 3 * c * c + 2 * c;
      if (cin !== c) expected += cin * c + 2 * c;
      cin = c;
    }
  }
  expected += 512 * 10 + 10;
  assert.is(expected, 21282122);
  assert.is(trainableCount(m), expected);
  m.dispose();
});

test('vgg16 (width 1): 13 convs with batch norm in blocks [2,2,3,3,3], dense 512, dense 10', () => {
  const m = buildModel('vgg16');
  const convs = names(m).filter((n) => /^block\d_conv\d$/.test(n));
  assert.is(convs.length, 13);
  assert.equal(m.getLayer('block5_pool').outputShape, [null, 1, 1, 512]);
  let expected = 0;
  let cin = 3;
  for (const c of [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]) {
    expected += 3 * 3 * cin * c + 2 * c;
    cin = c;
  }
  expected += 512 * 512 + 512 + 512 * 10 + 10;
  assert.is(trainableCount(m), expected);
  m.dispose();
});

test('width multiplier scales channels; numClasses and inputShape are honoured', () => {
  const m = buildModel('cnn', { width: 0.25, numClasses: 4, inputShape: [8, 8, 3] });
  assert.equal(m.getLayer('block1_conv1').outputShape, [null, 8, 8, 8]);
  assert.equal(m.getLayer('block2_conv2').outputShape, [null, 4, 4, 16]);
  assert.equal(m.getLayer('fc1').outputShape, [null, 128]);
  assert.equal(m.outputs[0]!.shape, [null, 4]);
  m.dispose();
});

test('initialisation is deterministic per seed and differs between seeds', () => {
  const w = (seed: number): Float32Array[] => {
    const m = buildModel('resnet34', { width: 0.125, seed });
    const values = m.getWeights().map((t) => t.dataSync() as Float32Array);
    m.dispose();
    return values;
  };
  const a = w(5);
  const b = w(5);
  const c = w(6);
  assert.is(a.length, b.length);
  a.forEach((t, i) => assert.equal(Array.from(t), Array.from(b[i]!), `weight ${i}`));
  assert.not.equal(Array.from(a[0]!), Array.from(c[0]!));
  // two conv layers of the same shape in one model must not share an initialisation
  const m = buildModel('resnet34', { width: 0.125, seed: 5 });
  assert.not.equal(Array.from(m.getLayer('stage1_block1_conv1').getWeights()[0]!.dataSync()), Array.from(m.getLayer('stage1_block1_conv2').getWeights()[0]!.dataSync()));
  m.dispose();
});

test('unknown model and bad width are refused with the valid choices', () => {
  assert.throws(() => buildModel('alexnet' as never), /valid models: cnn, lenet5, resnet34, vgg16/);
  assert.throws(() => buildModel('cnn', { width: 0 }), /width multiplier must be > 0/);
});

test('saveModel -> loadModel round trip gives identical predictions (incl. batch-norm statistics)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-model-io-'));
  try {
    for (const name of ['lenet5', 'resnet34'] as const) {
      const model = buildModel(name, { width: 0.125, seed: 3 });
      // Perturb the BN moving statistics so the round trip must carry non-trainable weights too.
      const bn = model.layers.find((l) => l.getClassName() === 'BatchNormalization');
      if (bn) bn.setWeights(bn.getWeights().map((t, i) => tf.add(t, 0.1 * (i + 1))));
      const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 11);
      const before = model.predict(x) as tf.Tensor;
      const target = join(dir, name);
      await saveModel(model, target);
      assert.ok(existsSync(join(target, 'model.json')) && existsSync(join(target, 'weights.bin')));
      const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8')) as { format: string; weightsManifest: { paths: string[] }[] };
      assert.is(json.format, 'layers-model');
      assert.equal(json.weightsManifest[0]!.paths, ['weights.bin']);
      const loaded = await loadModel(target);
      const after = loaded.predict(x) as tf.Tensor;
      assert.equal(Array.from(after.dataSync()), Array.from(before.dataSync()), name);
      assert.equal(names(loaded), names(model));
      tf.dispose([x, before, after]);
      model.dispose();
      loaded.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadModel names the file when model.json is missing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-model-io-'));
  try {
    let message = '';
    await loadModel(dir).catch((e: Error) => { message = e.message; });
    assert.match(message, join(dir, 'model.json'));
    assert.match(message, /TF\.js Layers model\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
