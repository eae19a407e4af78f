import type * as tf from '@tensorflow/tfjs';

/** Signatures of the addon's fused batch-normalization kernels (native/src/batch_norm.cc). */
export interface NativeBatchNormKernels {}

/** wasm kernel configs backed by them. */
export function batchNormNative(_native: NativeBatchNormKernels): tf.KernelConfig[] {
  return [];
}
