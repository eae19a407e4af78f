import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/engine/index.js';
import { useGemm } from '../../src/engine/kernels/conv2d_backprop_filter_wasm.js';
import { cpuKernels } from '../../src/engine/kernels/index.js';
import { installKernels } from '../../src/engine/registry.js';
import { agrees, random } from './reference.js';

type Pad = 'same' | 'valid' | number[][];

const convCases: [number, number, number, number, number, number, number, Pad][] = [
  // batch, height, width, inChannels, outChannels, filter, stride, padding
  [1, 7, 7, 3, 4, 3, 1, 'same'],
  [3, 9, 8, 2, 5, 3, 2, 'same'],
  [2, 8, 8, 4, 3, 3, 2, 'same'],
  [1, 10, 11, 3, 2, 5, 2, 'valid'],
  [4, 8, 8, 6, 7, 1, 2, 'valid'],
  [2, 9, 9, 3, 3, 3, 2, [[0, 0], [1, 2], [0, 1], [0, 0]]],
  [5, 13, 13, 3, 6, 5, 1, 'valid'],
  [2, 6, 6, 8, 16, 1, 1, 'same'],
  // Shapes for which Conv2DBackpropFilter takes the patch-GEMM path (Co >= 32, short patch).
  [3, 8, 8, 3, 32, 3, 1, 'same'],
  [2, 7, 9, 2, 32, 3, 1, [[0, 0], [2, 1], [0, 2], [0, 0]]],
  [2, 9, 9, 16, 32, 1, 2, 'valid'],
  [1, 11, 10, 4, 40, 5, 1, 'valid'],
];

test.before(async () => {
  await initEngine('wasm');
});

test('Conv2DBackpropFilter (wasm) matches the CPU reference on both of its formulations', () => {
  const paths = new Set<boolean>();
  for (const [b, h, w, ci, co, f, s, pad] of convCases) {
    const info = tf.backend_util.computeConv2DInfo([b, h, w, ci], [f, f, ci, co], s, 1, pad as 'same');
    paths.add(useGemm(info));
    agrees('Conv2DBackpropFilter', { x: random([b, h, w, ci]), dy: random(info.outShape) }, { strides: s, pad, dataFormat: 'NHWC', filterShape: [f, f, ci, co] });
  }
  assert.equal([...paths].sort(), [false, true], 'cases must cover the convolution and the GEMM formulation');
});

test('Conv2DBackpropInput (wasm) matches the CPU reference', () => {
  for (const [b, h, w, ci, co, f, s, pad] of convCases) {
    const info = tf.backend_util.computeConv2DInfo([b, h, w, ci], [f, f, ci, co], s, 1, pad as 'same');
    agrees('Conv2DBackpropInput', { dy: random(info.outShape), filter: random([f, f, ci, co]) }, { strides: s, pad, dataFormat: 'NHWC', inputShape: [b, h, w, ci] });
  }
});

test('BatchMatMul with transposed operands (wasm) matches the CPU reference', () => {
  for (const [m, k, n, ta, tb] of [[5, 7, 3, false, true], [5, 7, 3, true, false], [6, 4, 9, true, true], [64, 120, 84, true, false], [1, 33, 17, false, true]] as const) {
    const a = random(ta ? [1, k, m] : [1, m, k]);
    const b = random(tb ? [1, n, k] : [1, k, n]);
    agrees('BatchMatMul', { a, b }, { transposeA: ta, transposeB: tb });
  }
  agrees('BatchMatMul', { a: random([3, 4, 5]), b: random([3, 6, 5]) }, { transposeA: false, transposeB: true });
});

test('Tile (wasm) matches the CPU reference, float and int', () => {
  for (const [shape, reps] of [[[1, 1, 1, 5], [4, 3, 3, 1]], [[2, 3], [2, 2]], [[3], [4]], [[2, 1, 3], [1, 5, 2]], [[2, 2], [1, 1]]]) {
    agrees('Tile', { x: random(shape!) }, { reps: reps! }, 0);
  }
  agrees('Tile', { x: { values: new Int32Array([1, -2, 3]), shape: [3], dtype: 'int32' } }, { reps: [3] }, 0);
});

test('Transpose (wasm) matches the CPU reference for tiled and block-copy permutations', () => {
  for (const [shape, perm] of [[[2, 3, 4, 5], [3, 1, 2, 0]], [[2, 3, 4, 5], [1, 2, 0, 3]], [[4, 1, 3], [2, 1, 0]], [[37, 41], [1, 0]], [[2, 3, 4], [0, 2, 1]], [[3, 4, 5], [0, 1, 2]], [[9, 17, 19, 6], [3, 1, 2, 0]]]) {
    agrees('Transpose', { x: random(shape!) }, { perm: perm! }, 0);
  }
});

test('Sum and Mean over leading, middle and inner axes (wasm) match the CPU reference', () => {
  for (const [shape, axis, keepDims] of [[[4, 5, 6, 7], [0, 1, 2], false], [[4, 5, 6, 7], [1, 2], true], [[4, 5, 6, 7], [3], false], [[4, 5, 6, 7], [0, 2], false], [[4, 5], 0, false]] as const) {
    agrees('Sum', { x: random([...shape]) }, { axis: axis as unknown as number[], keepDims });
    agrees('Mean', { x: random([...shape]) }, { axis: axis as unknown as number[], keepDims });
  }
});

test('MaxPoolGrad (wasm) matches the CPU reference, including ties between zeros', () => {
  for (const [shape, f, s, pad] of [[[2, 8, 8, 3], 2, 2, 'valid'], [[3, 9, 9, 4], 3, 2, 'same'], [[1, 7, 7, 2], 3, 1, 'same'], [[4, 13, 11, 5], 2, 2, 'valid']] as const) {
    const info = tf.backend_util.computePool2DInfo([...shape] as [number, number, number, number], f, s, 1, pad);
    const input = random([...shape], 3);
    agrees('MaxPoolGrad', { dy: random(info.outShape), input, output: random(info.outShape) }, { filterSize: f, strides: s, pad }, 1e-6);
  }
});

test('Slice (wasm) matches the CPU reference for contiguous and strided slices', () => {
  for (const [shape, begin, size] of [[[10, 4, 4, 3], [3, 0, 0, 0], [5, -1, -1, -1]], [[6, 5, 4], [1, 2, 1], [3, 2, 2]], [[7, 9], [2, 3], [4, 5]], [[5], [1], [3]], [[4, 3, 2], [0, 1, 0], [4, 2, 2]]]) {
    agrees('Slice', { x: random(shape!) }, { begin: begin!, size: size! }, 0);
  }
  agrees('Slice', { x: { values: new Int32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3], dtype: 'int32' } }, { begin: [0, 1], size: [2, 2] }, 0);
});

test('Identity (wasm) shares the buffer without changing values', () => {
  agrees('Identity', { x: random([3, 4]) }, {}, 0);
});

test('CPU overrides (Conv2DBackpropFilter, MaxPoolGrad) match the pristine CPU kernels', () => {
  installKernels(cpuKernels);
  for (const [b, h, w, ci, co, f, s, pad] of convCases) {
    const info = tf.backend_util.computeConv2DInfo([b, h, w, ci], [f, f, ci, co], s, 1, pad as 'same');
    agrees('Conv2DBackpropFilter', { x: random([b, h, w, ci], 4), dy: random(info.outShape) }, { strides: s, pad, dataFormat: 'NHWC', filterShape: [f, f, ci, co] }, 1e-6, 'cpu');
  }
  const info = tf.backend_util.computePool2DInfo([3, 9, 9, 4], 3, 2, 1, 'same');
  agrees('MaxPoolGrad', { dy: random(info.outShape), input: random([3, 9, 9, 4], 3), output: random(info.outShape) }, { filterSize: 3, strides: 2, pad: 'same' }, 1e-6, 'cpu');
});

test.run();
