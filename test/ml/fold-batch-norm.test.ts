import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initEngine } from '../../src/engine/index.js';
import { foldBatchNorm } from '../../src/ml/models/fold-batch-norm.js';
import { buildModel } from '../../src/ml/models/index.js';

/** Moving statistics and affine parameters far from their initial 0/1, as after training. */
function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    // gamma, beta, moving mean, moving variance (positive)
    const values = layer.getWeights().map((w, i) => tf.randomUniform(w.shape, i === 3 ? 0.3 : -1, i === 3 ? 3 : 1, 'float32', seed + i));
    layer.setWeights(values);
    tf.dispose(values);
  }
}

function maxRelativeDifference(a: tf.LayersModel, b: tf.LayersModel, x: tf.Tensor): number {
  return tf.tidy(() => {
    const ya = (a.predict(x) as tf.Tensor).dataSync();
    const yb = (b.predict(x) as tf.Tensor).dataSync();
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < ya.length; i++) {
      diff = Math.max(diff, Math.abs(ya[i]! - yb[i]!));
      scale = Math.max(scale, Math.abs(ya[i]!));
    }
    return diff / scale;
  });
}

const classNames = (m: tf.LayersModel): string[] => m.layers.map((l) => l.getClassName());

for (const backend of ['cpu', 'wasm'] as const) {
  test(`folding ResNet34's and VGG16's batch norms keeps predictions (${backend}) and removes every BatchNormalization`, async () => {
    await initEngine(backend);
    for (const name of ['resnet34', 'vgg16'] as const) {
      const model = buildModel(name, { width: 0.125, seed: 3 });
      randomizeBatchNorm(model, 7);
      const folded = foldBatchNorm(model);
      assert.is.not(folded, model);
      assert.not.ok(classNames(folded).includes('BatchNormalization'), `${name}: batch norm left in the folded graph`);
      assert.ok(classNames(model).filter((c) => c === 'BatchNormalization').length > 0);
      // conv-BN-ReLU triples become convolutions with a relu activation.
      const reluConvs = folded.layers.filter((l) => l.getClassName() === 'Conv2D' && (l.getConfig() as { activation?: string }).activation === 'relu');
      assert.ok(reluConvs.length > 0, `${name}: no ReLU was fused into a convolution`);
      const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 11);
      const rel = maxRelativeDifference(model, folded, x);
      assert.ok(rel < 1e-4, `${name}: folded predictions differ by ${rel} (relative)`);
      x.dispose();
      folded.dispose();
      model.dispose();
    }
  });
}

test('models without batch norm are returned as they are', async () => {
  await initEngine('cpu');
  const model = buildModel('lenet5', { seed: 1 });
  assert.is(foldBatchNorm(model), model);
  model.dispose();
});

test('the folded copy shares the other layers: disposing it leaves the model usable, disposing both frees everything', async () => {
  await initEngine('cpu');
  const before = tf.memory().numTensors;
  const model = buildModel('resnet34', { width: 0.125, seed: 2 });
  randomizeBatchNorm(model, 5);
  const folded = foldBatchNorm(model);
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 3);
  const expected = tf.tidy(() => (folded.predict(x) as tf.Tensor).arraySync());
  folded.dispose();
  const after = model.predict(x) as tf.Tensor;
  const got = after.arraySync() as number[][];
  (expected as number[][]).forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - got[i]![j]!) < 1e-5)));
  tf.dispose([x, after]);
  model.dispose();
  assert.is(tf.memory().numTensors, before, 'tensors left after disposing the copy and the model');
});

test('a convolution with another consumer, or a capped ReLU, is left as it is', async () => {
  await initEngine('cpu');
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'shared_conv' }).apply(input) as tf.SymbolicTensor;
  const norm = tf.layers.batchNormalization({ name: 'bn_a' }).apply(conv) as tf.SymbolicTensor;
  const side = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
  const conv2 = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'capped_conv' }).apply(norm) as tf.SymbolicTensor;
  const norm2 = tf.layers.batchNormalization({ name: 'bn_b' }).apply(conv2) as tf.SymbolicTensor;
  const capped = tf.layers.reLU({ maxValue: 6, name: 'relu6' }).apply(norm2) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(capped) as tf.SymbolicTensor;
  const out = tf.layers.concatenate().apply([pooled, side]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  randomizeBatchNorm(model, 9);
  const folded = foldBatchNorm(model);
  const names = folded.layers.map((l) => l.name);
  assert.ok(names.includes('bn_a'), 'bn_a must stay: its convolution also feeds another layer');
  assert.not.ok(names.includes('bn_b'), 'bn_b folds into capped_conv (which has its own bias)');
  assert.ok(names.includes('relu6'), 'a ReLU with maxValue is not fused');
  const x = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 4);
  assert.ok(maxRelativeDifference(model, folded, x) < 1e-5);
  x.dispose();
  folded.dispose();
  model.dispose();
});

test.run();
