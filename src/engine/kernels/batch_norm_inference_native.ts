import * as tf from '@tensorflow/tfjs';
import type { FusedBatchNormAttrs } from '@tensorflow/tfjs-core';
import { heap, offset, type KernelArgs } from './native_heap.js';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';

/** Signature of the addon's fixed-statistics batch norm (native/src/batch_norm_inference.cc). */
export interface NativeBatchNormInferenceKernels {
  batchNormInference(memory: ArrayBuffer, x: number, mean: number, variance: number, offset: number, scale: number, y: number,
    rows: number, channels: number, epsilon: number): void;
}

/**
 * FusedBatchNorm (the kernel behind tf.batchNorm, which tfjs-layers' BatchNormalization calls with the
 * moving statistics in predict()) when every statistic is per channel of the last axis, as in NHWC
 * models; TF.js' wasm kernel costs ~2 ms per 1M-element tensor, a third of ResNet34's inference time.
 */
export function batchNormInferenceNative(native: NativeBatchNormInferenceKernels): tf.KernelConfig[] {
  const kernelFunc = ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info => {
    const backend = asWasm(anyBackend);
    const { x, mean, variance, offset: shift, scale } = inputs as { x: Info; mean: Info; variance: Info; offset?: Info; scale?: Info };
    const { varianceEpsilon } = attrs as unknown as FusedBatchNormAttrs;
    const channels = x.shape[x.shape.length - 1] ?? 0;
    const params = [mean, variance, shift, scale].filter((p): p is Info => p !== undefined);
    if (x.dtype !== 'float32' || channels === 0 || params.some((p) => p.dtype !== 'float32' || tf.util.sizeFromShape(p.shape) !== channels)) {
      return callKernel(backend, 'FusedBatchNorm', inputs, attrs);
    }
    const y = allocate(backend, [...x.shape]);
    native.batchNormInference(heap(backend), offset(backend, x), offset(backend, mean), offset(backend, variance),
      shift === undefined ? -1 : offset(backend, shift), scale === undefined ? -1 : offset(backend, scale), offset(backend, y),
      tf.util.sizeFromShape(x.shape) / channels, channels, varianceEpsilon);
    return y;
  };
  return [{ kernelName: 'FusedBatchNorm', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc }];
}
