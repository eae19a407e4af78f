import type * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, callKernel, release, view, type Info } from './wasm_heap.js';
import { transposeLastTwo } from './transpose_loop.js';

/**
 * TF.js' wasm BatchMatMul reaches XNNPACK only without transposes (and batch 1); any transposed operand
 * falls to a scalar triple loop 10-20x slower. Dense-layer gradients are exactly A·Bᵀ and Aᵀ·B, so
 * transpose the operand explicitly (a cheap blocked copy) and take the fast path.
 */
function batchMatMul({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { a, b } = inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  if (!transposeA && !transposeB) return callKernel(backend, 'BatchMatMul', inputs, attrs);
  const aT = transposeA ? transposed(backend, a) : a;
  const bT = transposeB ? transposed(backend, b) : b;
  const out = callKernel(backend, 'BatchMatMul', { a: aT, b: bT }, { transposeA: false, transposeB: false });
  if (aT !== a) release(backend, aT);
  if (bT !== b) release(backend, bT);
  return out;
}

function transposed(backend: ReturnType<typeof asWasm>, x: Info): Info {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2]!;
  const cols = x.shape[rank - 1]!;
  const shape = [...x.shape.slice(0, rank - 2), cols, rows];
  const out = allocate(backend, shape, x.dtype);
  transposeLastTwo(view(backend, x), view(backend, out), rows, cols);
  return out;
}

export const batchMatMulWasm: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};
