import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initEngine } from '../../src/engine/index.js';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, fusedBatchNormAvailable, fusedBatchNormTraining } from '../../src/engine/kernels/batch_norm_native.js';
import { heap } from '../../src/engine/kernels/native_heap.js';
import { loadNativeKernels } from '../../src/engine/native.js';
import { setCustomKernelsEnabled, setNativeKernelsEnabled } from '../../src/engine/registry.js';
import { loadModel, saveModel } from '../../src/ml/model-io.js';
import { BatchNormalization, batchNormalization } from '../../src/ml/models/batch-norm.js';
import { difference, random, type Difference } from './reference.js';

const native = loadNativeKernels();
const EPSILON = 1e-3;

/** Native-only checks report why they did nothing instead of failing where the addon is not built. */
function needsNative(name: string): boolean {
  if (native.loaded) return true;
  console.log(`  skipped "${name}": native addon not loaded (${native.reason})`);
  return false;
}

interface Results { y: Float32Array; mean: Float32Array; variance: Float32Array; dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array }

/**
 * y, batch statistics and the gradients of sum(y * w) on the current backend, either through the fused
 * op or as tfjs-layers' BatchNormalization computes a training batch (tf.moments, then tf.batchNorm).
 */
function batchNorm(fused: boolean, x: Float32Array, shape: number[], gamma: Float32Array, beta: Float32Array, w: Float32Array): Results {
  return tf.tidy(() => {
    const c = shape[shape.length - 1]!;
    const xs = tf.tensor(x, shape), gs = tf.tensor1d(gamma), bs = tf.tensor1d(beta), ws = tf.tensor(w, shape);
    const axes = shape.slice(0, -1).map((_, i) => i);
    const forward = (a: tf.Tensor, g: tf.Tensor1D, b: tf.Tensor1D): [tf.Tensor, tf.Tensor, tf.Tensor] => {
      if (fused) return fusedBatchNormTraining(a, g, b, EPSILON);
      const { mean, variance } = tf.moments(a, axes);
      return [tf.batchNorm(a, mean, variance, b, g, EPSILON), mean, variance];
    };
    const [y, mean, variance] = forward(xs, gs, bs);
    const [dx, dgamma, dbeta] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(a, g as tf.Tensor1D, b as tf.Tensor1D)[0], ws)))([xs, gs, bs]);
    assert.equal(mean.shape, [c]);
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    return { y: read(y), mean: read(mean), variance: read(variance), dx: read(dx!), dgamma: read(dgamma!), dbeta: read(dbeta!) };
  });
}

/** The same in float64 arithmetic, to tell the fused kernel's rounding from the reference's. */
function exact(x: Float32Array, shape: number[], gamma: Float32Array, beta: Float32Array, w: Float32Array): Record<keyof Results, Float64Array> {
  const c = shape[shape.length - 1]!, m = x.length / c;
  const mean = new Float64Array(c), variance = new Float64Array(c), sumDy = new Float64Array(c), sumDyXhat = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i]! / m;
  for (let i = 0; i < x.length; i++) variance[i % c] += (x[i]! - mean[i % c]!) ** 2 / m;
  const invStd = variance.map((v) => 1 / Math.sqrt(v + EPSILON));
  const y = new Float64Array(x.length), dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xhat = (x[i]! - mean[i % c]!) * invStd[i % c]!;
    y[i] = gamma[i % c]! * xhat + beta[i % c]!;
    sumDy[i % c] += w[i]!;
    sumDyXhat[i % c] += w[i]! * xhat;
  }
  for (let i = 0; i < x.length; i++) {
    const k = i % c, xhat = (x[i]! - mean[k]!) * invStd[k]!;
    dx[i] = (gamma[k]! * invStd[k]! / m) * (m * w[i]! - sumDy[k]! - xhat * sumDyXhat[k]!);
  }
  return { y, mean, variance, dx, dgamma: sumDyXhat, dbeta: sumDy };
}

function onBackend<T>(backend: 'cpu' | 'wasm', fn: () => T): T {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  // The pristine CPU kernels are the reference.
  if (backend === 'cpu') setCustomKernelsEnabled('cpu', false);
  try {
    return fn();
  } finally {
    setCustomKernelsEnabled('cpu', true);
    tf.setBackend(previous);
  }
}

const worst: Record<string, Difference> = {};
function record(key: string, d: Difference): Difference {
  const w = worst[key];
  if (w === undefined || !(d.rel <= w.rel)) worst[key] = d;
  return d;
}

test.before(async () => {
  await initEngine('wasm');
});

test.after(() => {
  if (Object.keys(worst).length > 0) console.log(`  worst agreement: ${JSON.stringify(worst)}`);
});

// The wasm heap never shrinks, and other test files in this process need allocations that grow it;
// so the cases that take tens of MB (a 65,536-row batch, the largest ResNet34 batch-norm input at
// batch 64, and the heap-growth check) run in a child process: this file run by itself with
// BDLAB_BATCH_NORM_LARGE=1.
const LARGE = process.env['BDLAB_BATCH_NORM_LARGE'] === '1';

// [shape, offset added to x]: odd channel counts, a single channel, rank 2 and inputs whose mean
// dwarfs their spread.
const cases: [number[], number][] = LARGE ? [[[64, 32, 32, 16], 0]] : [
  [[2, 3, 5, 7], 0],
  [[10, 3], 0],
  [[4, 5, 5, 1], 0],
  [[3, 4, 4, 33], 0.5],
  [[8, 6, 6, 24], 0],
  [[16, 8, 8, 13], 30],
];

test(`fused batch norm: y, mean, variance and dx, dgamma, dbeta agree with tfjs-layers' computation on the pristine CPU backend${LARGE ? ' (65,536 rows)' : ''}`, () => {
  if (!needsNative('fused batch norm agreement')) return;
  for (const [shape, shift] of cases) {
    const c = shape[shape.length - 1]!;
    const x = random(shape).values as Float32Array;
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * (1 + (i % c) * 0.25) + shift;
    const gamma = random([c]).values as Float32Array, beta = random([c]).values as Float32Array, w = random(shape).values as Float32Array;
    const reference = onBackend('cpu', () => batchNorm(false, x, shape, gamma, beta, w));
    const ours = onBackend('wasm', () => batchNorm(true, x, shape, gamma, beta, w));
    const truth = exact(x, shape, gamma, beta, w);
    for (const key of Object.keys(reference) as (keyof Results)[]) {
      const vsCpu = record(`${key} vs cpu`, difference(reference[key], ours[key]));
      const vsExact = record(`${key} vs float64`, difference(truth[key], ours[key]));
      const cpuVsExact = difference(truth[key], reference[key]);
      // Against the CPU reference where it is accurate; where its own float32 rounding dominates (large
      // means), ours must be at least as close to the float64 result as it is.
      assert.ok(vsCpu.rel <= 2e-5 || vsExact.rel <= Math.max(2e-5, cpuVsExact.rel),
        `[${shape}] +${shift} ${key}: vs cpu max abs ${vsCpu.maxAbs} rel ${vsCpu.rel}; vs float64 rel ${vsExact.rel} (cpu's ${cpuVsExact.rel})`);
      assert.ok(vsExact.rel <= 2e-5, `[${shape}] +${shift} ${key}: vs float64 max abs ${vsExact.maxAbs} rel ${vsExact.rel}`);
    }
  }
});

if (LARGE) test('fused batch norm kernels stay correct when their outputs grow the wasm heap', () => {
  if (!needsNative('heap growth')) return;
  tf.setBackend('wasm');
  const backend = tf.backend() as BackendWasm;
  const grew = { forward: false, backward: false };
  // Doubling sizes: sooner or later each kernel's outputs no longer fit in the heap's free space.
  for (let rows = 1 << 16; !(grew.forward && grew.backward) && rows <= 1 << 22; rows *= 2) {
    const shape = [rows, 8];
    const values = random(shape).values as Float32Array, w = random(shape).values as Float32Array;
    const gamma = random([8]).values as Float32Array, beta = random([8]).values as Float32Array;
    const truth = exact(values, shape, gamma, beta, w);
    const x = tf.tensor(values, shape), dy = tf.tensor(w, shape), g = tf.tensor1d(gamma), b = tf.tensor1d(beta);
    let before = heap(backend).byteLength;
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x, gamma: g, beta: b }, { epsilon: EPSILON }) as tf.Tensor[];
    grew.forward ||= heap(backend).byteLength > before;
    before = heap(backend).byteLength;
    const [dx, dgamma, dbeta] = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, gamma: g, mean: mean!, variance: variance! }, { epsilon: EPSILON }) as tf.Tensor[];
    grew.backward ||= heap(backend).byteLength > before;
    const outputs = { y: y!, mean: mean!, variance: variance!, dx: dx!, dgamma: dgamma!, dbeta: dbeta! };
    for (const [key, t] of Object.entries(outputs)) {
      const d = difference(truth[key as keyof Results], t.dataSync());
      assert.ok(d.rel <= 2e-5, `${key} with ${rows} rows: max abs ${d.maxAbs}, rel ${d.rel}`);
    }
    tf.dispose([x, dy, g, b, ...Object.values(outputs)]);
  }
  assert.equal(grew, { forward: true, backward: true }, 'the heap must grow during each kernel');
});

if (!LARGE) {
  test('the large cases pass in a process of their own', () => {
    if (!needsNative('large cases')) return;
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, BDLAB_BATCH_NORM_LARGE: '1' } });
    const output = `${child.stdout}${child.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    assert.is(child.status, 0, `child failed:\n${output}`);
    assert.match(output, /Passed:\s+2\b/, `child ran fewer tests than expected:\n${output}`);
    const worstLine = output.split('\n').find((l) => l.includes('worst agreement'));
    if (worstLine !== undefined) console.log(`  65,536 rows, ${worstLine.slice(worstLine.indexOf('worst agreement'))}`);
  });
}

/** conv (no bias) - BN - ReLU - conv - BN - global pool - dense, with the given batch-norm layer factory. */
function convBnModel(bn: (args: { name: string; momentum?: number }) => tf.layers.Layer, seed = 1): tf.LayersModel {
  const input = tf.input({ shape: [10, 10, 3], name: 'image' });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed }), name: 'conv1' }).apply(input) as tf.SymbolicTensor;
  x = bn({ name: 'bn1', momentum: 0.8 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }), name: 'conv2' }).apply(x) as tf.SymbolicTensor;
  x = bn({ name: 'bn2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }), name: 'logits' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'conv_bn' });
}

const stock = (args: { name: string; momentum?: number }) => tf.layers.batchNormalization(args);
const ours = (args: { name: string; momentum?: number }) => batchNormalization(args);

function images(n: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.randomUniform([n, 10, 10, 3], 0, 1, 'float32', seed).mul(tf.linspace(0.5, 2, 3)).add(0.2) as tf.Tensor4D);
}

/** SGD steps on softmax cross-entropy; returns every weight (trainable and moving statistics) afterwards, by name. */
function train(model: tf.LayersModel, steps: number): Map<string, Float32Array> {
  const optimizer = tf.train.sgd(0.1);
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      const x = images(16, 100 + s);
      const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => (i + s) % 3), 'int32'), 3);
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
    });
  }
  optimizer.dispose();
  return new Map(model.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
}

if (!LARGE) test('a model with the layer trains on wasm like the stock layer on the pristine CPU backend (weights and moving statistics)', () => {
  if (!needsNative('training agreement')) return;
  const reference = onBackend('cpu', () => {
    const m = convBnModel(stock);
    const w = train(m, 4);
    m.dispose();
    return w;
  });
  const actual = onBackend('wasm', () => {
    const m = convBnModel(ours);
    assert.ok(m.getLayer('bn1') instanceof BatchNormalization);
    const w = train(m, 4);
    m.dispose();
    return w;
  });
  assert.equal([...actual.keys()].sort(), [...reference.keys()].sort());
  assert.ok([...reference.keys()].some((k) => k.endsWith('moving_variance')));
  for (const [name, ref] of reference) {
    const d = record(`weight after 4 steps`, difference(ref, actual.get(name)!));
    assert.ok(d.rel <= 1e-4, `${name}: max abs ${d.maxAbs}, rel ${d.rel}`);
  }
});

if (!LARGE) test('the layer is the stock computation where the fused kernel is absent (cpu, or native kernels off)', () => {
  for (const [backend, nativeOn] of [['cpu', true], ['wasm', false]] as const) {
    setNativeKernelsEnabled(nativeOn);
    try {
      const [a, b] = onBackend(backend, () => {
        assert.not.ok(fusedBatchNormAvailable(), `fused kernel on ${backend} with native ${nativeOn}`);
        return [stock, ours].map((bn) => {
          const m = convBnModel(bn);
          const w = train(m, 2);
          m.dispose();
          return w;
        });
      });
      for (const [name, values] of a) assert.equal(Array.from(b.get(name)!), Array.from(values), `${backend}: ${name}`);
    } finally {
      setNativeKernelsEnabled(true);
    }
  }
});

if (!LARGE) test('a model with the layer saves as the stock layer and loads back (into it, and into plain TF.js) with identical predictions', async () => {
  tf.setBackend('wasm');
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-bn-'));
  try {
    const model = convBnModel(ours, 7);
    train(model, 2);
    const plain = convBnModel(stock, 7);
    assert.equal(JSON.parse(JSON.stringify(model.toJSON(null, false))), JSON.parse(JSON.stringify(plain.toJSON(null, false))), 'topology differs from the stock layer\'s');
    plain.dispose();
    await saveModel(model, dir);
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: { class_name: string; name: string }[] } } };
    assert.equal(json.modelTopology.config.layers.filter((l) => l.name.startsWith('bn')).map((l) => l.class_name), ['BatchNormalization', 'BatchNormalization']);
    const x = images(5, 3);
    const before = model.predict(x) as tf.Tensor;
    const loaded = await loadModel(dir);
    assert.ok(loaded.getLayer('bn2') instanceof BatchNormalization, 'saved models load into the fused layer');
    const after = loaded.predict(x) as tf.Tensor;
    assert.equal(Array.from(after.dataSync()), Array.from(before.dataSync()));
    // Plain TF.js: the stock class registered under the name, as in a process that never imported ours.
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    const ourEntry = map['BatchNormalization']!;
    map['BatchNormalization'] = [tf.layers.batchNormalization({}).constructor as never, ourEntry[1]];
    let inPlain: tf.LayersModel;
    try {
      inPlain = await loadModel(dir);
    } finally {
      map['BatchNormalization'] = ourEntry;
    }
    assert.not.ok(inPlain.getLayer('bn2') instanceof BatchNormalization);
    const plainAfter = inPlain.predict(x) as tf.Tensor;
    assert.equal(Array.from(plainAfter.dataSync()), Array.from(before.dataSync()));
    tf.dispose([x, before, after, plainAfter]);
    model.dispose();
    loaded.dispose();
    inPlain.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

if (!LARGE) test('a small conv + batch-norm model learns on wasm through the fused kernel without leaking tensors', () => {
  if (!needsNative('training run')) return;
  tf.setBackend('wasm');
  assert.ok(fusedBatchNormAvailable());
  const model = convBnModel(ours, 11);
  // Class = which channel is brightest.
  const n = 48;
  const x = tf.tidy(() => {
    const base = tf.randomUniform([n, 10, 10, 3], 0, 0.5, 'float32', 5);
    const mask = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3).reshape([n, 1, 1, 3]);
    return base.add(mask.mul(0.5));
  });
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3);
  const optimizer = tf.train.adam(0.02);
  const losses: number[] = [];
  const counts: number[] = [];
  for (let epoch = 0; epoch < 8; epoch++) {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    counts.push(tf.memory().numTensors);
  }
  assert.ok(losses[7]! < 0.6 * losses[0]!, `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  for (let e = 2; e < counts.length; e++) assert.is(counts[e], counts[1], `tensor count per step: ${counts.join(' ')}`);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
});

test.run();
