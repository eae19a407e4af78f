import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/engine/index.js';
import { setCustomKernelsEnabled } from '../../src/engine/registry.js';
import { difference } from './reference.js';

function lenetLike(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [16, 16, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 5, activation: 'relu', kernelInitializer: init(1) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(2) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: init(3) }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, kernelInitializer: init(4) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** conv-BN-ReLU-conv-BN + projection shortcut (1x1 stride 2 conv + BN), ReLU, global average pool, dense. */
function residualBlock(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.heNormal({ seed });
  const input = tf.input({ shape: [12, 12, 4] });
  let y = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(5) }).apply(input) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
  y = tf.layers.reLU().apply(y) as tf.SymbolicTensor;
  y = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(6) }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
  let s = tf.layers.conv2d({ filters: 8, kernelSize: 1, strides: 2, useBias: false, kernelInitializer: init(7) }).apply(input) as tf.SymbolicTensor;
  s = tf.layers.batchNormalization().apply(s) as tf.SymbolicTensor;
  let x = tf.layers.add().apply([y, s]) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** Loss gradients for every trainable weight, computed on `backend` (ours on wasm, TF.js' own on cpu). */
function gradients(model: tf.LayersModel, backend: 'wasm' | 'cpu', x: Float32Array, labels: number[]): Map<string, Float32Array> {
  tf.setBackend(backend);
  setCustomKernelsEnabled('cpu', false);
  try {
    const input = tf.tensor(x, [labels.length, ...(model.inputs[0]!.shape.slice(1) as number[])]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), model.outputs[0]!.shape[1] as number);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(input, { training: true }) as tf.Tensor) as tf.Scalar);
    const result = new Map(Object.entries(grads).map(([name, g]) => [name, g.dataSync() as Float32Array]));
    tf.dispose([input, y, value, ...Object.values(grads)]);
    return result;
  } finally {
    setCustomKernelsEnabled('cpu', true);
  }
}

function input(n: number, size: number): Float32Array {
  const v = new Float32Array(n * size);
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(i * 0.37) * Math.cos(i * 0.011);
  return v;
}

test.before(async () => {
  await initEngine('wasm');
});

for (const [name, build, shape] of [['LeNet5-like net', lenetLike, 16 * 16 * 3], ['residual block with batch norm', residualBlock, 12 * 12 * 4]] as const) {
  test(`whole-model gradients of a ${name} on wasm match TF.js' CPU kernels`, () => {
    const model = build();
    const labels = Array.from({ length: 10 }, (_, i) => i % (model.outputs[0]!.shape[1] as number));
    const x = input(labels.length, shape);
    const ours = gradients(model, 'wasm', x, labels);
    const reference = gradients(model, 'cpu', x, labels);
    tf.setBackend('wasm');
    assert.ok(reference.size >= 6, `expected trainable weights, got ${reference.size}`);
    for (const [weight, ref] of reference) {
      const d = difference(ref, ours.get(weight)!);
      assert.ok(d.maxAbs <= 1e-4 && d.rel <= 1e-4, `${weight}: max abs ${d.maxAbs}, rel ${d.rel}`);
    }
    model.dispose();
  });
}

test('training on wasm learns a synthetic task and leaks no tensors between epochs', () => {
  tf.setBackend('wasm');
  const model = residualBlock();
  // Class = which third of the image holds a bright 3x3 patch; learnable by the convs.
  const n = 48;
  const x = new Float32Array(n * 12 * 12 * 4);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 3;
    labels.push(label);
    const row = 1 + ((i * 5) % 8);
    const col = label * 4 + ((i >> 2) % 2);
    for (let dr = 0; dr < 3; dr++) for (let dc = 0; dc < 3; dc++) for (let c = 0; c < 4; c++) x[((i * 12 + row + dr) * 12 + col + dc) * 4 + c] = 1;
  }
  const xs = tf.tensor4d(x, [n, 12, 12, 4]);
  const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
  const optimizer = tf.train.adam(0.03);
  const losses: number[] = [];
  const tensorsAfterEpoch: number[] = [];
  for (let epoch = 0; epoch < 10; epoch++) {
    let sum = 0;
    for (let b = 0; b < n; b += 16) {
      const loss = optimizer.minimize(() => tf.tidy(() => tf.losses.softmaxCrossEntropy(ys.slice(b, 16), model.apply(xs.slice(b, 16), { training: true }) as tf.Tensor) as tf.Scalar), true)!;
      sum += loss.dataSync()[0]!;
      loss.dispose();
    }
    losses.push(sum / 3);
    tensorsAfterEpoch.push(tf.memory().numTensors);
  }
  assert.ok(losses[9]! < 0.5 * losses[0]!, `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  // Epoch 1 creates the optimizer's slots; from then on the count must not move.
  for (let e = 2; e < tensorsAfterEpoch.length; e++) assert.is(tensorsAfterEpoch[e], tensorsAfterEpoch[1], `tensor count per epoch: ${tensorsAfterEpoch.join(' ')}`);
  tf.dispose([xs, ys]);
  optimizer.dispose();
  model.dispose();
});

test.run();
