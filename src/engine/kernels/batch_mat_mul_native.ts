import * as tf from '@tensorflow/tfjs';
import type { BatchMatMulAttrs, _FusedMatMulAttrs } from '@tensorflow/tfjs-core';
import type { NativeKernels } from '../native.js';
import { batchMatMulWasm } from './batch_mat_mul_wasm.js';
import { heap, nativeActivation, offset, type KernelArgs } from './native_heap.js';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';

/**
 * BatchMatMul and _FusedMatMul through the native GEMM, where transposed operands cost nothing (they
 * only change strides). Batch dimensions must match or one side must have a single matrix; other
 * broadcasts, dtypes and activations go to the wasm kernels.
 */
export function batchMatMulNative(native: NativeKernels): tf.KernelConfig[] {
  const run = (name: 'BatchMatMul' | '_FusedMatMul') => ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info => {
    const backend = asWasm(anyBackend);
    const { a, b, bias, preluActivationWeights } = inputs as { a: Info; b: Info; bias?: Info; preluActivationWeights?: Info };
    const { transposeA, transposeB, activation } = attrs as unknown as _FusedMatMulAttrs & BatchMatMulAttrs;
    const act = nativeActivation(activation);
    const fallback = (): Info => name === 'BatchMatMul'
      ? (batchMatMulWasm.kernelFunc as (a: KernelArgs) => Info)({ inputs, backend, attrs })
      : callKernel(backend, name, inputs, attrs);
    const rankA = a.shape.length;
    const rankB = b.shape.length;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || rankA < 2 || rankB < 2 || act === undefined || act === 2 || preluActivationWeights !== undefined) return fallback();
    const m = a.shape[transposeA ? rankA - 1 : rankA - 2]!;
    const k = a.shape[transposeA ? rankA - 2 : rankA - 1]!;
    const n = b.shape[transposeB ? rankB - 2 : rankB - 1]!;
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const sameOuter = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
    if (!sameOuter && batchA !== 1 && batchB !== 1) return fallback();
    if (bias !== undefined && tf.util.sizeFromShape(bias.shape) !== n) return fallback();
    const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    const c = allocate(backend, [...outer, m, n]);
    native.matmul(heap(backend), offset(backend, a), offset(backend, b), offset(backend, c), batchA, batchB, m, n, k,
      transposeA ? 1 : 0, transposeB ? 1 : 0, bias === undefined ? -1 : offset(backend, bias), act);
    return c;
  };
  return [
    { kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: run('BatchMatMul') as unknown as tf.KernelFunc },
    { kernelName: '_FusedMatMul', backendName: 'wasm', kernelFunc: run('_FusedMatMul') as unknown as tf.KernelFunc },
  ];
}
