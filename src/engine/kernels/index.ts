import type * as tf from '@tensorflow/tfjs';
import type { NativeKernels } from '../native.js';
import { batchMatMulNative } from './batch_mat_mul_native.js';
import { batchNormInferenceNative } from './batch_norm_inference_native.js';
import { batchNormNative } from './batch_norm_native.js';
import { pointwiseNative } from './pointwise_native.js';
import { conv2DNative } from './conv2d_native.js';
import { batchMatMulWasm } from './batch_mat_mul_wasm.js';
import { conv2DBackpropFilterCpu } from './conv2d_backprop_filter_cpu.js';
import { conv2DBackpropFilterWasm } from './conv2d_backprop_filter_wasm.js';
import { conv2DBackpropInputWasm } from './conv2d_backprop_input_wasm.js';
import { identityWasm } from './identity_wasm.js';
import { maxPoolGradCpu } from './max_pool_grad_cpu.js';
import { maxPoolGradWasm } from './max_pool_grad_wasm.js';
import { meanWasm, sumWasm } from './reduce_wasm.js';
import { sliceWasm } from './slice_wasm.js';
import { tileWasm } from './tile_wasm.js';
import { transposeWasm } from './transpose_wasm.js';

/** Kernels bdlab registers for the WebAssembly backend (missing there, or too slow for training). */
export const wasmKernels: readonly tf.KernelConfig[] = [
  conv2DBackpropFilterWasm,
  conv2DBackpropInputWasm,
  batchMatMulWasm,
  maxPoolGradWasm,
  tileWasm,
  transposeWasm,
  identityWasm,
  sumWasm,
  meanWasm,
  sliceWasm,
];

/** Replacements for the pure-JS CPU backend's pathological training kernels. */
export const cpuKernels: readonly tf.KernelConfig[] = [conv2DBackpropFilterCpu, maxPoolGradCpu];

/** Kernels backed by the native addon, registered over the wasm ones when it loads. */
export function nativeWasmKernels(native: NativeKernels): tf.KernelConfig[] {
  return [...conv2DNative(native), ...batchMatMulNative(native), ...pointwiseNative(native), ...batchNormNative(native), ...batchNormInferenceNative(native)];
}
