import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/engine/index.js';
import { ADAM_UPDATE_KERNEL } from '../../src/engine/kernels/adam_update_wasm.js';
import { setCustomKernelsEnabled } from '../../src/engine/registry.js';
import { fusedAdam } from '../../src/ml/fused-adam.js';
import { difference } from './reference.js';

const TOLERANCE = 1e-5;

function smallCnn(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 10, activation: 'relu', kernelInitializer: init(2) }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, kernelInitializer: init(3) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

function denseOnly(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] });
  const x = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

interface Run {
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
}

function step(run: Run, x: tf.Tensor, y: tf.Tensor): void {
  const variables = run.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = run.optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, run.model.apply(x) as tf.Tensor) as tf.Scalar, true, variables);
  loss?.dispose();
}

function maxRelativeDifference(a: tf.LayersModel, b: tf.LayersModel): number {
  const wa = a.getWeights();
  const wb = b.getWeights();
  assert.is(wa.length, wb.length);
  return Math.max(...wa.map((w, i) => difference(w.dataSync(), wb[i]!.dataSync()).rel));
}

function data(): { x: tf.Tensor; y: tf.Tensor } {
  return { x: tf.randomUniform([8, 12, 12, 3], 0, 1, 'float32', 7), y: tf.oneHot(tf.tensor1d([0, 1, 2, 3, 3, 2, 1, 0], 'int32'), 4) };
}

function dispose(...runs: Run[]): void {
  for (const run of runs) {
    run.optimizer.dispose();
    run.model.dispose();
  }
}

test.before(async () => {
  await initEngine('wasm');
});

test('fused Adam on wasm matches tf.train.adam after 8 steps (weights and m/v slots)', () => {
  const { x, y } = data();
  const reference: Run = { model: smallCnn(), optimizer: tf.train.adam(0.01) };
  const fused: Run = { model: smallCnn(), optimizer: fusedAdam(0.01) };
  const initial = maxRelativeDifference(reference.model, fused.model);
  assert.is(initial, 0, 'both models start from the same weights');
  for (let i = 0; i < 8; i++) {
    step(reference, x, y);
    step(fused, x, y);
  }
  const moved = difference(smallCnn().getWeights()[0]!.dataSync(), fused.model.getWeights()[0]!.dataSync());
  assert.ok(moved.maxAbs > 1e-3, `training moved the weights (${moved.maxAbs})`);
  const rel = maxRelativeDifference(reference.model, fused.model);
  assert.ok(rel <= TOLERANCE, `weights differ by ${rel} relative`);
  return Promise.all([reference.optimizer.getWeights(), fused.optimizer.getWeights()]).then(([ref, got]) => {
    // Slot names follow the variable names, which differ only by the layers' global counters.
    const shape = (name: string): string => name.replace(/\d+/g, '#');
    assert.equal(got.map((w) => shape(w.name)), ref.map((w) => shape(w.name)));
    for (let i = 0; i < ref.length; i++) {
      const d = difference(ref[i]!.tensor.dataSync(), got[i]!.tensor.dataSync());
      assert.ok(d.rel <= TOLERANCE, `optimizer slot ${ref[i]!.name} differs by ${d.rel}`);
    }
    tf.dispose([x, y]);
    dispose(reference, fused);
  });
});

test('fused Adam applies one BdlabAdamUpdate kernel per variable and no element-wise kernels', async () => {
  const { x, y } = data();
  const run: Run = { model: smallCnn(), optimizer: fusedAdam(0.01) };
  step(run, x, y); // creates the slots
  const variables = run.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = run.optimizer.computeGradients(() => tf.losses.softmaxCrossEntropy(y, run.model.apply(x) as tf.Tensor) as tf.Scalar, variables);
  const profile = await tf.profile(() => { run.optimizer.applyGradients(grads); });
  const names = profile.kernels.map((k) => k.name);
  assert.is(names.filter((n) => n === ADAM_UPDATE_KERNEL).length, variables.length);
  assert.equal(names.filter((n) => n !== ADAM_UPDATE_KERNEL), [], 'no other kernels');
  tf.dispose([x, y, ...Object.values(grads)]);
  dispose(run);
});

test('optimizer state round-trips between tf.train.adam and fused Adam (checkpoint resume)', async () => {
  const { x, y } = data();
  const reference: Run = { model: smallCnn(), optimizer: tf.train.adam(0.01) };
  for (let i = 0; i < 3; i++) step(reference, x, y);
  const saved = await reference.optimizer.getWeights();
  const resumed: Run = { model: smallCnn(), optimizer: fusedAdam(0.01) };
  resumed.model.setWeights(reference.model.getWeights());
  await resumed.optimizer.setWeights(saved.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
  assert.is(resumed.optimizer.iterations, 3);
  for (let i = 0; i < 4; i++) {
    step(reference, x, y);
    step(resumed, x, y);
  }
  const rel = maxRelativeDifference(reference.model, resumed.model);
  assert.ok(rel <= TOLERANCE, `weights after resume differ by ${rel} relative`);
  assert.is(resumed.optimizer.iterations, 7);
  tf.dispose([x, y]);
  dispose(reference, resumed);
});

test('without the kernel (custom kernels off) fused Adam falls back to TF.js and still matches', () => {
  setCustomKernelsEnabled('wasm', false);
  try {
    assert.is(tf.getKernel(ADAM_UPDATE_KERNEL, 'wasm'), undefined);
    const { x, y } = data();
    // Dense only: without our kernels the wasm backend has no Conv2DBackpropFilter.
    const reference: Run = { model: denseOnly(), optimizer: tf.train.adam(0.02) };
    const fused: Run = { model: denseOnly(), optimizer: fusedAdam(0.02) };
    for (let i = 0; i < 3; i++) {
      step(reference, x, y);
      step(fused, x, y);
    }
    assert.is(maxRelativeDifference(reference.model, fused.model), 0);
    tf.dispose([x, y]);
    dispose(reference, fused);
  } finally {
    setCustomKernelsEnabled('wasm', true);
  }
});

test('fused Adam leaks no tensors per step', () => {
  const { x, y } = data();
  const run: Run = { model: smallCnn(), optimizer: fusedAdam(0.01) };
  step(run, x, y);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step(run, x, y);
  assert.is(tf.memory().numTensors, before);
  tf.dispose([x, y]);
  dispose(run);
});

test.run();
