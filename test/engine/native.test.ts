import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/engine/index.js';
import { native, nativeTest } from '../helpers/native-test.js';
import { agrees, random } from './reference.js';

type Pad = 'same' | 'valid' | number[][];

test.before(async () => {
  await initEngine('wasm');
});

nativeTest('the wasm backend reports the native kernels and the instruction set they were built for', async () => {
  const info = await initEngine('wasm');
  for (const name of ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', '_FusedMatMul', 'FusedBatchNorm']) {
    assert.ok(info.nativeKernels.includes(name), `${name} in ${info.nativeKernels.join(', ')}`);
  }
  assert.match(info.versions['bdlab-native']!, /^(avx512|avx2|avx|generic)$/);
});

nativeTest('Conv2D matches the CPU reference over strides, paddings, dilations, 1x1 and tiny channel counts', () => {
  const cases: [number[], number[], number | [number, number], Pad, number | [number, number]][] = [
    // input, filter, strides, pad, dilations
    [[2, 7, 9, 3], [3, 3, 3, 5], 1, 'same', 1],
    [[3, 8, 8, 5], [3, 3, 5, 40], 2, 'same', 1],
    [[2, 9, 9, 6], [5, 5, 6, 33], 1, 'valid', 1],
    [[1, 6, 6, 17], [1, 1, 17, 13], 1, 'valid', 1],
    [[4, 9, 9, 16], [1, 1, 16, 32], 2, 'valid', 1],
    [[2, 11, 10, 4], [3, 3, 4, 7], 1, 'same', 2],
    [[2, 9, 9, 3], [3, 2, 3, 6], [2, 1], [[0, 0], [1, 2], [0, 1], [0, 0]], 1],
    [[64, 12, 12, 3], [5, 5, 3, 6], 1, 'valid', 1],
  ];
  for (const [xs, fs, strides, pad, dilations] of cases) {
    agrees('Conv2D', { x: random(xs), filter: random(fs) }, { strides, pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined as unknown as string });
  }
});

nativeTest('the direct path for few-channel layers (stride 1, <= 8 in, <= 16 out, rows <= 32) matches the CPU reference, forward and filter gradient', () => {
  const cases: [number[], number[], Pad][] = [
    [[2, 20, 30, 3], [3, 3, 3, 8], [[0, 0], [2, 0], [1, 2], [0, 0]]], // two row vectors, uneven padding
    [[3, 14, 14, 6], [5, 5, 6, 16], 'valid'], // LeNet's second layer: one row vector
    [[4, 32, 32, 3], [5, 5, 3, 6], 'valid'], // LeNet's first layer
    [[2, 9, 17, 5], [3, 3, 5, 13], 'same'], // channel blocks with a remainder
    [[2, 8, 8, 2], [3, 4, 2, 3], 'same'], // filter width 4: forward direct, gradient through the GEMM
  ];
  for (const [xs, fs, pad] of cases) {
    const attrs = { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 };
    agrees('Conv2D', { x: random(xs), filter: random(fs) }, attrs);
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], 1, 1, pad as 'same');
    agrees('Conv2DBackpropFilter', { x: random(xs), dy: random(info.outShape) }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: fs });
  }
});

nativeTest('the unpacked stride-1 paths (16 -> 16, 32 -> 32k channels) match the CPU reference, forward and as the input gradient', () => {
  const cases: [number[], number[], Pad][] = [
    [[2, 17, 20, 16], [3, 3, 16, 16], 'same'], // two chunks of 16 pixels, the second partial
    [[3, 20, 21, 16], [5, 5, 16, 16], 'valid'],
    [[1, 16, 16, 16], [3, 3, 16, 16], [[0, 0], [0, 2], [2, 1], [0, 0]]],
    [[2, 9, 13, 32], [3, 3, 32, 32], 'same'], // chunks of 8 pixels, the last partial
    [[1, 8, 8, 32], [3, 3, 32, 64], 'same'], // two blocks of 32 output channels
  ];
  for (const [xs, fs, pad] of cases) {
    agrees('Conv2D', { x: random(xs), filter: random(fs) }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 });
    const info = tf.backend_util.computeConv2DInfo(xs as [number, number, number, number], fs as [number, number, number, number], 1, 1, pad as 'same');
    agrees('Conv2DBackpropInput', { dy: random(info.outShape), filter: random(fs) }, { strides: 1, pad, dataFormat: 'NHWC', inputShape: xs });
  }
});

nativeTest('FusedConv2D adds the bias and applies relu / relu6 on every native path, and other activations still agree (TF.js fallback)', () => {
  // x, filter: the few-channel direct path, the 16-channel path, the GEMM with full and partial tiles, 1x1.
  const shapes: [number[], number[]][] = [[[3, 8, 8, 4], [3, 3, 4, 12]], [[2, 17, 20, 16], [3, 3, 16, 16]], [[2, 9, 9, 24], [3, 3, 24, 40]], [[1, 6, 6, 17], [1, 1, 17, 13]]];
  for (const [xs, fs] of shapes) {
    for (const activation of ['linear', 'relu', 'relu6', 'elu']) {
      const x = random(xs);
      // Scaled up so relu6 clips somewhere.
      for (let i = 0; i < x.values.length; i++) x.values[i]! *= 8;
      agrees('FusedConv2D', { x, filter: random(fs), bias: random([fs[3]!]) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation, leakyreluAlpha: 0.2 });
    }
  }
});

nativeTest('BatchMatMul over batches, broadcast batches and transposes, and _FusedMatMul with bias and relu, match the CPU reference', () => {
  for (const [as, bs, ta, tb] of [
    [[4, 5, 7], [4, 7, 3], false, false],
    [[4, 7, 5], [4, 3, 7], true, true],
    [[1, 5, 7], [6, 7, 3], false, false],
    [[6, 5, 7], [1, 3, 7], false, true],
    [[2, 3, 33, 65], [2, 3, 65, 17], false, false],
    [[1, 64, 400], [1, 400, 120], false, false],
  ] as [number[], number[], boolean, boolean][]) {
    agrees('BatchMatMul', { a: random(as), b: random(bs) }, { transposeA: ta, transposeB: tb });
  }
  for (const activation of ['linear', 'relu']) {
    agrees('_FusedMatMul', { a: random([1, 9, 20]), b: random([1, 20, 13]), bias: random([13]) }, { transposeA: false, transposeB: false, activation, leakyreluAlpha: 0.2 });
  }
});

nativeTest('FusedBatchNorm with per-channel statistics (with and without offset and scale) matches the CPU reference', () => {
  for (const [shape, withOffset, withScale] of [[[4, 5, 6, 7], true, true], [[3, 9, 16], false, true], [[2, 3, 3, 33], true, false], [[10, 4], false, false]] as [number[], boolean, boolean][]) {
    const channels = shape[shape.length - 1]!;
    const variance = random([channels]);
    for (let i = 0; i < channels; i++) variance.values[i] = Math.abs(variance.values[i]!) + 0.1;
    agrees('FusedBatchNorm', {
      x: random(shape), mean: random([channels]), variance,
      ...(withOffset ? { offset: random([channels]) } : {}), ...(withScale ? { scale: random([channels]) } : {}),
    }, { varianceEpsilon: 1e-3 });
  }
  // Statistics broadcast along another axis are TF.js' own kernel's business (fallback), still correct.
  agrees('FusedBatchNorm', { x: random([2, 3, 4]), mean: random([1, 3, 1]), variance: { values: new Float32Array([1, 2, 3]), shape: [1, 3, 1] } }, { varianceEpsilon: 1e-3 });
});

nativeTest('native kernels stay correct when allocating their output grows the wasm heap', () => {
  const heapBytes = (): number => (tf.findBackend('wasm') as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  const before = heapBytes();
  // A 1x1 convolution to 128 channels whose output alone is larger than the whole heap now (8 MB per image).
  const batch = Math.ceil(before / (128 * 128 * 128 * 4)) + 1;
  agrees('Conv2D', { x: random([batch, 128, 128, 2]), filter: random([1, 1, 2, 128]) }, { strides: 1, pad: 'valid', dataFormat: 'NHWC', dilations: 1 });
  assert.ok(heapBytes() > before, `the heap did not grow (${before} bytes), so this case no longer tests a moved buffer`);
});

nativeTest('the addon refuses tensors outside the memory it is given, with a message instead of a crash', () => {
  const addon = native;  // a local, so that the check below narrows its type
  if (!addon.loaded) return;
  const memory = new Float32Array(16);
  // y would need 2 x 3 x 3 x 4 floats past byte 32.
  assert.throws(
    () => addon.kernels.conv2d(memory.buffer, 0, 0, 32, -1, 0, 2, 3, 3, 1, 3, 3, 4, 1, 1, 1, 1, 1, 1, 0, 0),
    (e: Error) => /lies outside the 64-byte memory/.test(e.message),
  );
  assert.throws(() => addon.kernels.matmul(memory.buffer, 0, 0, 0, 1, 1, 2, 2, -3, 0, 0, -1, 0), (e: Error) => /sizes must be positive/.test(e.message));
  assert.throws(() => (addon.kernels.conv2d as (...a: unknown[]) => void)('not memory', 0), (e: Error) => /ArrayBuffer or typed array/.test(e.message));
});

test.run();
