import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initEngine, setEngineThreads } from '../../src/engine/index.js';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from '../../src/engine/kernels/batch_norm_native.js';
import { native, nativeTest } from '../helpers/native-test.js';
import { difference, random, runKernel, type HostTensor } from './reference.js';

/**
 * Every parallel native kernel at 1, 2, 3 and 7 threads: against TF.js' pristine CPU kernel, against
 * its own 1-thread result (bit-identical: chunks write disjoint outputs, and sums across chunks add
 * partials over slices fixed by the shape, not the thread count), and against itself run twice. The addon is
 * told to split even these small shapes as finely as the thread count allows, so that chunk
 * boundaries fall everywhere, including shapes with fewer units than threads (batch 1, 1x1 images).
 */

const THREADS = [1, 2, 3, 7];

function setThreads(threads: number, splitEverything: boolean): void {
  setEngineThreads(threads);
  if (native.loaded) native.kernels.setThreads(threads, splitEverything ? 1 : 0);
}

function identical(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Runs `kernelName` on the native kernels at every thread count: same bits as at 1 thread, and as TF.js CPU within `tolerance`. */
function acrossThreads(kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap, tolerance = 1e-5): void {
  const label = `${kernelName} ${Object.values(inputs).map((t) => `[${t.shape}]`).join(' ')}`;
  const reference = runKernel('cpu', false, kernelName, inputs, attrs);
  let single: HostTensor | undefined;
  for (const threads of THREADS) {
    setThreads(threads, true);
    const first = runKernel('wasm', true, kernelName, inputs, attrs);
    const again = runKernel('wasm', true, kernelName, inputs, attrs);
    assert.ok(identical(first.values, again.values), `${label} at ${threads} threads: two runs differ`);
    const d = difference(reference.values, first.values);
    assert.ok(d.rel <= tolerance, `${label} at ${threads} threads: vs TF.js CPU max abs ${d.maxAbs}, rel ${d.rel} > ${tolerance}`);
    single ??= first;
    assert.ok(identical(single.values, first.values), `${label}: ${threads} threads differ from 1 thread (max abs ${difference(single.values, first.values).maxAbs})`);
  }
}

type Pad = 'same' | 'valid';
const conv = (strides: number, pad: Pad) => ({ strides, pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined as unknown as string });
const outShape = (xs: number[], fs: number[], strides: number, pad: Pad): number[] =>
  tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], strides, 1, pad).outShape;

test.before(async () => {
  await initEngine('wasm');
});

test.after(() => {
  setThreads(1, false);
});

// [x, filter, strides, pad, the path it takes]
const CONVOLUTIONS: [number[], number[], number, Pad, string][] = [
  [[3, 9, 11, 3], [3, 3, 3, 8], 1, 'same', 'few-channel direct'],
  [[1, 12, 12, 6], [5, 5, 6, 16], 1, 'valid', 'few-channel direct, batch 1'],
  [[2, 17, 20, 16], [3, 3, 16, 16], 1, 'same', 'unpacked 16 -> 16'],
  [[2, 9, 13, 32], [3, 3, 32, 64], 1, 'same', 'unpacked 32 -> 64'],
  [[2, 9, 9, 24], [3, 3, 24, 40], 2, 'same', 'packed GEMM'],
  [[3, 7, 7, 40], [3, 3, 40, 8], 1, 'same', 'packed GEMM, narrow'],
  [[1, 1, 1, 17], [1, 1, 17, 13], 1, 'valid', '1x1 image, pointwise'],
  [[1, 1, 1, 3], [3, 3, 3, 5], 1, 'same', '1x1 image, 3 channels'],
];

nativeTest('Conv2D on every path is bit-identical at 1, 2, 3 and 7 threads and matches TF.js CPU', () => {
  for (const [xs, fs, strides, pad] of CONVOLUTIONS) acrossThreads('Conv2D', { x: random(xs), filter: random(fs) }, conv(strides, pad));
  // With bias and relu applied as the GEMM stores its tiles.
  acrossThreads('FusedConv2D', { x: random([2, 9, 9, 24]), filter: random([3, 3, 24, 40]), bias: random([40]) }, { ...conv(1, 'same'), activation: 'relu', leakyreluAlpha: 0.2 });
});

nativeTest('Conv2DBackpropInput (scatter, as a convolution, unpacked, strided) is bit-identical across thread counts and matches TF.js CPU', () => {
  const cases: [number[], number[], number, Pad][] = [
    [[3, 8, 8, 6], [3, 3, 6, 20], 1, 'same'], // fewer than 16 input channels: product and scatter, per image
    [[2, 9, 9, 32], [3, 3, 32, 32], 1, 'same'], // as the unpacked 32-channel convolution
    [[2, 8, 8, 24], [3, 3, 24, 40], 1, 'same'], // as a packed convolution
    [[2, 9, 9, 16], [3, 3, 16, 8], 2, 'same'], // strided: scatter
    [[1, 1, 1, 3], [1, 1, 3, 7], 1, 'valid'],
    [[1, 2, 2, 3], [3, 3, 3, 4], 1, 'same'],
  ];
  for (const [xs, fs, strides, pad] of cases) {
    acrossThreads('Conv2DBackpropInput', { dy: random(outShape(xs, fs, strides, pad)), filter: random(fs) }, { ...conv(strides, pad), inputShape: xs });
  }
});

nativeTest('Conv2DBackpropFilter (few-channel direct with per-group sums, GEMM, 1x1) is bit-identical across thread counts and matches TF.js CPU', () => {
  const cases: [number[], number[], number, Pad][] = [
    [[5, 14, 14, 6], [5, 5, 6, 16], 1, 'valid'], // few-channel direct, 5x5
    [[4, 20, 30, 3], [3, 3, 3, 8], 1, 'same'], // few-channel direct, 3x3, two row vectors
    [[1, 9, 9, 3], [3, 3, 3, 8], 1, 'same'], // batch 1: one image for 7 threads
    [[3, 9, 9, 24], [3, 3, 24, 40], 1, 'same'],
    [[2, 5, 5, 17], [1, 1, 17, 13], 1, 'valid'],
    [[1, 1, 1, 3], [3, 3, 3, 5], 1, 'same'],
  ];
  for (const [xs, fs, strides, pad] of cases) {
    acrossThreads('Conv2DBackpropFilter', { x: random(xs), dy: random(outShape(xs, fs, strides, pad)) }, { ...conv(strides, pad), filterShape: fs });
  }
});

nativeTest('BatchMatMul and _FusedMatMul are bit-identical across thread counts', () => {
  acrossThreads('BatchMatMul', { a: random([1, 64, 400]), b: random([1, 400, 120]) }, { transposeA: false, transposeB: false });
  acrossThreads('BatchMatMul', { a: random([4, 7, 5]), b: random([4, 3, 7]) }, { transposeA: true, transposeB: true });
  acrossThreads('_FusedMatMul', { a: random([1, 9, 20]), b: random([1, 20, 13]), bias: random([13]) }, { transposeA: false, transposeB: false, activation: 'relu', leakyreluAlpha: 0.2 });
});

nativeTest('element-wise, broadcast and unary ops and reductions are bit-identical across thread counts', () => {
  for (const kernel of ['Add', 'Sub', 'Multiply', 'RealDiv']) {
    for (const [sa, sb] of [[[3, 1001], [3, 1001]], [[6, 5, 7, 16], [16]], [[1011], []], [[1], [1]], [[9, 300], [300]]] as [number[], number[]][]) {
      acrossThreads(kernel, { a: random(sa), b: random(sb) }, {}, 0);
    }
  }
  // ReLU, the Step of its gradient (NaN stays NaN, 0 goes to alpha), and the optimizer's Sqrt and Square.
  const withSpecials = random([3, 1001]);
  withSpecials.values[5] = NaN;
  withSpecials.values[6] = 0;
  withSpecials.values[7] = -0;
  const positive = random([2, 3, 777]);
  positive.values = positive.values.map(Math.abs);
  for (const [kernel, x, attrs] of [['Relu', withSpecials, {}], ['Step', withSpecials, { alpha: 0 }], ['Step', withSpecials, { alpha: 0.25 }], ['Sqrt', positive, {}], ['Square', withSpecials, {}], ['Relu', random([1]), {}]] as [string, HostTensor, tf.NamedAttrMap][]) {
    acrossThreads(kernel, { x }, attrs, 1e-6);
  }
  // Sum of a [20 x 32 x 32, 16] block: five fixed slices of rows added in order, whatever the thread count.
  acrossThreads('Sum', { x: random([20, 32, 32, 16]) }, { axis: [0, 1, 2], keepDims: false });
  acrossThreads('Sum', { x: random([50001, 6]) }, { axis: [0], keepDims: false }); // narrow rows
  acrossThreads('Sum', { x: random([3, 70000]) }, { axis: [1], keepDims: false });
  acrossThreads('Mean', { x: random([7, 5, 3]) }, { axis: [1], keepDims: false });
  acrossThreads('Sum', { x: random([1, 1, 1, 3]) }, { axis: [0, 1, 2], keepDims: false });
});

nativeTest('MaxPool, MaxPoolGrad and FusedBatchNorm (inference) are bit-identical across thread counts', () => {
  for (const [shape, f, s, pad] of [[[3, 8, 8, 5], 2, 2, 'valid'], [[1, 7, 7, 2], 3, 1, 'same'], [[1, 1, 1, 3], 1, 1, 'valid']] as [number[], number, number, Pad][]) {
    const dims = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], f, s, 1, pad).outShape;
    const input = random(shape);
    input.values = input.values.map((v) => Math.round(v * 2) / 2); // ties, as after ReLU
    acrossThreads('MaxPool', { x: input }, { filterSize: f, strides: s, pad }, 0);
    acrossThreads('MaxPoolGrad', { dy: random(dims), input, output: random(dims) }, { filterSize: f, strides: s, pad }, 1e-6);
  }
  const variance = random([7]);
  variance.values = variance.values.map((v) => Math.abs(v) + 0.1);
  acrossThreads('FusedBatchNorm', { x: random([4, 5, 6, 7]), mean: random([7]), variance, offset: random([7]), scale: random([7]) }, { varianceEpsilon: 1e-3 });
});

/** Float64 batch statistics, y and gradients of one [rows, channels] batch. */
function batchNormExact(x: Float32Array, dy: Float32Array, gamma: Float32Array, c: number, epsilon: number): Float64Array[] {
  const m = x.length / c;
  const mean = new Float64Array(c), variance = new Float64Array(c), sumDy = new Float64Array(c), sumDyXhat = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i]! / m;
  for (let i = 0; i < x.length; i++) variance[i % c] += (x[i]! - mean[i % c]!) ** 2 / m;
  const invStd = variance.map((v) => 1 / Math.sqrt(v + epsilon));
  const y = new Float64Array(x.length), dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xhat = (x[i]! - mean[i % c]!) * invStd[i % c]!;
    y[i] = gamma[i % c]! * xhat;
    sumDy[i % c] += dy[i]!;
    sumDyXhat[i % c] += dy[i]! * xhat;
  }
  for (let i = 0; i < x.length; i++) {
    const k = i % c, xhat = (x[i]! - mean[k]!) * invStd[k]!;
    dx[i] = (gamma[k]! * invStd[k]! / m) * (m * dy[i]! - sumDy[k]! - xhat * sumDyXhat[k]!);
  }
  return [y, mean, variance, dx, sumDyXhat, sumDy];
}

nativeTest('batch norm training, forward and backward, is bit-identical across thread counts and agrees with float64 sums', () => {
  tf.setBackend('wasm');
  // 20,480 rows of 16 channels: five fixed slices of rows for the statistics; and a batch of 1x1 images.
  for (const shape of [[20, 32, 32, 16], [1, 1, 1, 3], [2, 3, 3, 40]]) {
    const c = shape[shape.length - 1]!;
    const x = random(shape).values as Float32Array, dy = random(shape).values as Float32Array, gamma = random([c]).values as Float32Array;
    const truth = batchNormExact(x, dy, gamma, c, 1e-3);
    let single: Float32Array[] | undefined;
    for (const threads of THREADS) {
      setThreads(threads, true);
      const run = (): Float32Array[] => tf.tidy(() => {
        const xs = tf.tensor(x, shape), dys = tf.tensor(dy, shape), g = tf.tensor1d(gamma), b = tf.zeros([c]);
        const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x: xs, gamma: g, beta: b }, { epsilon: 1e-3 }) as tf.Tensor[];
        const grads = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { dy: dys, x: xs, gamma: g, mean: mean!, variance: variance! }, { epsilon: 1e-3 }) as tf.Tensor[];
        return [y!, mean!, variance!, ...grads].map((t) => t.dataSync() as Float32Array);
      });
      const first = run(), again = run();
      single ??= first;
      first.forEach((values, i) => {
        assert.ok(identical(values, again[i]!), `[${shape}] output ${i} at ${threads} threads: two runs differ`);
        const vsTruth = difference(truth[i]!, values);
        assert.ok(vsTruth.rel <= 2e-5, `[${shape}] output ${i} at ${threads} threads vs float64: rel ${vsTruth.rel}`);
        assert.ok(identical(single![i]!, values), `[${shape}] output ${i}: ${threads} threads differ from 1`);
      });
    }
  }
});

nativeTest('with the minimum work per chunk in force, a ResNet-sized convolution and its gradients are still split and still bit-identical', () => {
  const xs = [8, 32, 32, 16], fs = [3, 3, 16, 16];
  const inputs = { x: random(xs), filter: random(fs) };
  setThreads(1, false);
  const one = runKernel('wasm', true, 'Conv2D', inputs, conv(1, 'same'));
  setThreads(2, false);
  const two = runKernel('wasm', true, 'Conv2D', inputs, conv(1, 'same'));
  assert.ok(identical(one.values, two.values));
  const dy = random(outShape(xs, fs, 1, 'same'));
  setThreads(1, false);
  const gradOne = runKernel('wasm', true, 'Conv2DBackpropFilter', { x: inputs.x, dy }, { ...conv(1, 'same'), filterShape: fs });
  setThreads(2, false);
  const gradTwo = runKernel('wasm', true, 'Conv2DBackpropFilter', { x: inputs.x, dy }, { ...conv(1, 'same'), filterShape: fs });
  assert.ok(identical(gradOne.values, gradTwo.values));
});

nativeTest('the pool never runs more threads than asked: n - 1 workers beside the calling thread, joined when the count changes', () => {
  if (process.platform !== 'linux') return void console.log('  skipped the thread count check: /proc/self/task is Linux only');
  const tasks = (): number => readdirSync('/proc/self/task').length;
  const work = (): void => void runKernel('wasm', true, 'Conv2D', { x: random([4, 8, 8, 24]), filter: random([3, 3, 24, 40]) }, conv(1, 'same'));
  setThreads(1, true);
  work();
  const base = tasks();
  for (const threads of [3, 7, 2, 1]) {
    setThreads(threads, true);
    work();
    assert.is(tasks() - base, threads - 1, `threads ${threads}`);
  }
});

test.run();
