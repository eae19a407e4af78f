import type * as tf from '@tensorflow/tfjs';

/** Signatures of the addon's element-wise, broadcast and reduction kernels (native/src/pointwise.cc). */
export interface NativePointwiseKernels {}

/** wasm kernel configs backed by them. */
export function pointwiseNative(_native: NativePointwiseKernels): tf.KernelConfig[] {
  return [];
}
