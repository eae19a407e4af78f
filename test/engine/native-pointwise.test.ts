import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initEngine } from '../../src/engine/index.js';
import { loadNativeKernels } from '../../src/engine/native.js';
import { heap } from '../../src/engine/kernels/native_heap.js';
import { setCustomKernelsEnabled } from '../../src/engine/registry.js';
import { difference, random, runKernel, type HostTensor } from './reference.js';

/**
 * The native element-wise, broadcast, reduction and MaxPoolGrad kernels (native/src/pointwise.cc)
 * against TF.js' pristine CPU kernels. Each case also records whether the addon was called, so the
 * fast shapes are known to run natively and the others to fall back.
 */

const native = loadNativeKernels();
const skip = native.loaded ? undefined : `native addon not loaded (${native.reason}): skipping the native pointwise tests`;
if (skip !== undefined) console.log(skip);

type Entry = 'reduceSum' | 'binary' | 'maxPool' | 'maxPoolGrad';
const calls: Record<Entry, number> = { reduceSum: 0, binary: 0, maxPool: 0, maxPoolGrad: 0 };

test.before(async () => {
  await initEngine('wasm');
  if (!native.loaded) return;
  // The kernel configs look the addon's functions up on this object at call time, so wrapping them here counts real calls.
  const kernels = native.kernels as unknown as Record<Entry, (...args: unknown[]) => void>;
  for (const name of Object.keys(calls) as Entry[]) {
    const original = kernels[name];
    kernels[name] = (...args: unknown[]) => { calls[name]++; original(...args); };
  }
});

/** Runs the kernel on wasm (ours) and CPU (pristine), compares, and returns whether the addon's `entry` ran. */
function agrees(kernelName: string, entry: Entry, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap, tolerance: number): boolean {
  const reference = runKernel('cpu', false, kernelName, inputs, attrs);
  const before = calls[entry];
  const actual = runKernel('wasm', true, kernelName, inputs, attrs);
  const label = `${kernelName} ${Object.values(inputs).map((t) => `[${t.shape}]`).join(' ')} ${JSON.stringify(attrs)}`;
  assert.equal(actual.shape, reference.shape, `${label}: shape`);
  const d = difference(reference.values, actual.values);
  assert.ok(d.rel <= tolerance, `${label}: max abs ${d.maxAbs}, rel ${d.rel} > ${tolerance}`);
  return calls[entry] > before;
}

function ints(shape: number[]): HostTensor {
  const values = new Int32Array(shape.reduce((p, q) => p * q, 1)).map((_, i) => (i * 7919) % 23 - 11);
  return { values, shape, dtype: 'int32' };
}

/** Values from a few levels only, so pooling windows have many exact ties (as after ReLU or quantization). */
function coarse(shape: number[]): HostTensor {
  const t = random(shape);
  return { ...t, values: t.values.map((v) => Math.round(v * 2) / 2) };
}

const nativeTest = (name: string, fn: () => void): void => test(name, () => { if (skip === undefined) fn(); });

nativeTest('Sum and Mean over leading, middle and inner axes run natively and match the CPU reference', () => {
  const cases: [number[], number | number[] | null, boolean][] = [
    [[64, 32, 32, 16], [0, 1, 2], false], // batch-norm / bias gradient of an NHWC activation
    [[7, 5, 3], [0], false],
    [[7, 5, 3], [0, 1], true],
    [[7, 5, 3], [1], false], // middle: outer 7, cols 3
    [[7, 5, 3], [2], true], // innermost
    [[7, 5, 3], [1, 2], false],
    [[7, 5, 3], null, false], // all axes
    [[3, 1000, 37], [1], false],
    [[70001, 5], [0], false], // many rows, few columns
    [[64, 28, 28, 6], [0, 1, 2], false], // LeNet's first bias gradient: folded lanes (lcm(6, 16) = 48)
    [[3, 4001, 3], [1], true], // several outer blocks of narrow rows with a tail
    [[5, 1031], [1], false], // inner rows longer than one block, odd tail
    [[2, 4099], -1, true],
    [[1, 64, 10], [0, 1], false],
    [[64], [0], false],
    [[1, 1], [0, 1], true],
  ];
  for (const [shape, axis, keepDims] of cases) {
    for (const kernel of ['Sum', 'Mean']) {
      const ran = agrees(kernel, 'reduceSum', { x: random(shape) }, { axis: axis as number[], keepDims }, 1e-5);
      assert.ok(ran, `${kernel} [${shape}] axis ${JSON.stringify(axis)} did not run natively`);
    }
  }
});

nativeTest('Sum and Mean fall back for non-contiguous axes, empty axis lists and int32', () => {
  const cases: [HostTensor, number[]][] = [[random([4, 5, 6, 7]), [0, 2]], [random([4, 5, 6, 7]), [1, 3]], [random([3, 4]), []], [ints([6, 5]), [0]], [ints([6, 5]), [1]]];
  for (const [x, axis] of cases) {
    for (const kernel of ['Sum', 'Mean']) {
      // Mean of int32 divides in float on the CPU but truncates elsewhere; only check that it runs.
      if (kernel === 'Mean' && x.dtype === 'int32') continue;
      const ran = agrees(kernel, 'reduceSum', { x }, { axis, keepDims: false }, x.dtype === 'int32' ? 0 : 1e-5);
      assert.not.ok(ran, `${kernel} [${x.shape}] axis ${JSON.stringify(axis)} should not run natively`);
    }
  }
});

const binaryKernels = ['Add', 'Sub', 'Multiply', 'RealDiv'];

nativeTest('Add, Sub, Multiply and RealDiv run natively for same-shape, scalar, per-channel and row broadcasts', () => {
  const pairs: [number[], number[]][] = [
    [[64, 17, 9, 13], [64, 17, 9, 13]], // same shape, odd sizes
    [[1], [1]],
    [[], []],
    [[3, 5], [1, 1]], // scalar-like
    [[1011], []],
    [[], [4, 257]],
    [[5, 7, 3, 16], [16]], // per-channel, short rows folded (105 rows: 96 folded + 9)
    [[16], [5, 7, 3, 16]],
    [[1, 1, 1, 13], [5, 7, 3, 13]],
    [[5, 7, 3, 13], [1, 1, 1, 13]],
    [[2, 7, 3, 13], [7, 3, 13]], // broadcast over the leading axis only
    [[9, 300], [300]], // per-channel rows long enough not to fold
    [[1, 300], [9, 300]],
    [[64, 1], [64, 10]], // row broadcast (softmax gradient)
    [[5, 3, 7], [5, 3, 1]],
    [[5, 1, 1], [5, 2, 3]],
  ];
  for (const kernel of binaryKernels) {
    for (const [sa, sb] of pairs) {
      const ran = agrees(kernel, 'binary', { a: random(sa), b: random(sb) }, {}, 0);
      assert.ok(ran, `${kernel} [${sa}] [${sb}] did not run natively`);
    }
  }
});

nativeTest('Add, Sub, Multiply and RealDiv fall back for two-sided and middle broadcasts and int32', () => {
  const cases: [HostTensor, HostTensor][] = [
    [random([5, 1]), random([1, 7])],
    [random([3, 1, 4]), random([3, 5, 4])],
    [random([2, 1, 3, 1]), random([2, 4, 3, 5])],
    [ints([4, 3]), ints([3])],
  ];
  for (const kernel of binaryKernels) {
    for (const [a, b] of cases) {
      if (kernel === 'RealDiv' && a.dtype === 'int32') continue; // integer division by zero differs between backends
      const ran = agrees(kernel, 'binary', { a, b }, {}, 0);
      assert.not.ok(ran, `${kernel} [${a.shape}] [${b.shape}] should not run natively`);
    }
  }
});

type PoolCase = [number[], number | [number, number], number | [number, number], 'same' | 'valid'];
const POOLS: PoolCase[] = [
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[3, 9, 9, 4], 3, 2, 'same'],
    [[1, 7, 7, 2], 3, 1, 'same'],
    [[4, 13, 11, 5], 2, 2, 'valid'],
    [[2, 10, 9, 16], 3, 1, 'valid'],
    [[2, 11, 10, 33], 3, 2, 'same'],
    [[2, 9, 8, 7], [3, 2], [2, 1], 'same'],
    [[1, 6, 6, 1], 1, 1, 'valid'],
    [[2, 5, 5, 4], 5, 1, 'same'], // windows reaching two pixels into the padding
];

nativeTest('MaxPool runs natively and gives exactly the CPU reference, on every pooling geometry', () => {
  for (const [shape, f, s, pad] of POOLS) {
    for (const x of [random(shape, 3), coarse(shape)]) {
      assert.ok(agrees('MaxPool', 'maxPool', { x }, { filterSize: f, strides: s, pad }, 0), `MaxPool [${shape}] ${f}/${s} ${pad} did not run natively`);
    }
  }
  // -Infinity and NaN never win a window (TF.js compares with '>'): an all-NaN window gives -Infinity.
  const values = random([1, 4, 4, 2]).values;
  values.fill(-Infinity, 0, 8);
  values.fill(NaN, 8, 12);
  agrees('MaxPool', 'maxPool', { x: { values, shape: [1, 4, 4, 2] } }, { filterSize: 2, strides: 2, pad: 'valid' }, 0);
});

nativeTest('MaxPoolGrad runs natively and matches the CPU reference, including ties', () => {
  for (const [shape, f, s, pad] of POOLS) {
    const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], f, s, 1, pad);
    const dims = info.outShape;
    for (const input of [random(shape, 3), coarse(shape), { values: new Float32Array(shape.reduce((p, q) => p * q, 1)), shape }]) {
      const ran = agrees('MaxPoolGrad', 'maxPoolGrad', { dy: random(dims), input, output: random(dims) }, { filterSize: f, strides: s, pad }, 1e-6);
      assert.ok(ran, `MaxPoolGrad [${shape}] ${f}/${s} ${pad} did not run natively`);
    }
  }
});

nativeTest('MaxPoolGrad gives no gradient to windows of -Infinity and NaN, as TF.js', () => {
  const shape = [1, 4, 4, 2];
  const values = random(shape).values;
  values.fill(-Infinity, 0, 8);
  values.fill(NaN, 8, 12);
  const info = tf.backend_util.computePool2DInfo([1, 4, 4, 2], 2, 2, 1, 'valid');
  agrees('MaxPoolGrad', 'maxPoolGrad', { dy: random(info.outShape), input: { values, shape }, output: random(info.outShape) }, { filterSize: 2, strides: 2, pad: 'valid' }, 0);
});

nativeTest('Cast to the same dtype shares the buffer; other casts are TF.js\'', () => {
  const x = random([3, 5]);
  assert.equal(runKernel('wasm', true, 'Cast', { x }, { dtype: 'float32' }).values, x.values);
  const i = ints([4, 3]);
  assert.equal(Array.from(runKernel('wasm', true, 'Cast', { x: i }, { dtype: 'float32' }).values), Array.from(i.values));
  assert.equal(runKernel('wasm', true, 'Cast', { x }, { dtype: 'int32' }).values, runKernel('cpu', false, 'Cast', { x }, { dtype: 'int32' }).values);
  // The shared buffer outlives the tensor it came from.
  const previous = tf.getBackend();
  tf.setBackend('wasm');
  try {
    const source = tf.tensor(x.values, x.shape);
    const copy = tf.cast(source, 'float32');
    source.dispose();
    assert.equal(copy.dataSync(), x.values);
    copy.dispose();
  } finally {
    tf.setBackend(previous);
  }
});

/**
 * Runs one kernel on wasm with inputs large enough that allocating its output grows the heap, which
 * replaces the heap's ArrayBuffer: the kernel must fetch it after allocating. Returns the result and
 * whether the heap grew during the kernel.
 */
function onGrowingHeap(kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): { values: Float32Array; grew: boolean } {
  const previous = tf.getBackend();
  tf.setBackend('wasm');
  setCustomKernelsEnabled('wasm', true);
  try {
    const backend = tf.backend() as BackendWasm;
    const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape, v.dtype ?? 'float32')]));
    const before = heap(backend).byteLength;
    const out = tf.engine().runKernel(kernelName, tensors, attrs) as tf.Tensor;
    const grew = heap(backend).byteLength > before;
    const values = out.dataSync() as Float32Array;
    tf.dispose([out, ...Object.values(tensors)]);
    return { values, grew };
  } finally {
    tf.setBackend(previous);
  }
}

nativeTest('the native kernels fetch the heap after allocating their output (outputs that grow the heap)', () => {
  const cases: [string, (n: number) => [Record<string, HostTensor>, tf.NamedAttrMap]][] = [
    // Output as large as the input, so each size step outgrows the heap left by the previous ones.
    ['Multiply', (n) => [{ a: random([n / 16, 16]), b: random([16]) }, {}]],
    ['RealDiv', (n) => [{ a: random([n]), b: random([]) }, {}]],
    // A 1x1 window at stride 1: the output is as large as the input.
    ['MaxPool', (n) => [{ x: random([n / (32 * 32 * 16), 32, 32, 16]) }, { filterSize: 1, strides: 1, pad: 'valid' }]],
    ['MaxPoolGrad', (n) => {
      const shape = [n / (32 * 32 * 16), 32, 32, 16];
      const info = tf.backend_util.computePool2DInfo(shape as [number, number, number, number], 2, 2, 1, 'valid');
      return [{ dy: random(info.outShape), input: random(shape, 3), output: random(info.outShape) }, { filterSize: 2, strides: 2, pad: 'valid' }];
    }],
  ];
  for (const [kernelName, make] of cases) {
    let grown = false;
    // Sizes double until an output allocation grows the heap (from 4 MB; earlier tests leave free space behind).
    for (let n = 1 << 20; n <= 1 << 24 && !grown; n *= 2) {
      const [inputs, attrs] = make(n);
      const { values, grew } = onGrowingHeap(kernelName, inputs, attrs);
      if (!grew) continue;
      grown = true;
      const reference = runKernel('cpu', false, kernelName, inputs, attrs);
      const d = difference(reference.values, values);
      assert.ok(d.rel <= 1e-6, `${kernelName} with n=${n} on a growing heap: max abs ${d.maxAbs}, rel ${d.rel}`);
    }
    assert.ok(grown, `${kernelName}: no size grew the heap during the kernel, so the case tests nothing`);
  }
  // A reduction's output is small; its input alone growing the heap still exercises the addon's bounds on a large buffer.
  const x = random([1 << 22, 4]);
  agrees('Sum', 'reduceSum', { x }, { axis: [0], keepDims: false }, 1e-5);
});

test.run();
