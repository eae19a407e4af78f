import type * as tf from '@tensorflow/tfjs';
import { conv2DBackpropFilterWasm } from './conv2d_backprop_filter_wasm.js';
import { conv2DBackpropInputWasm } from './conv2d_backprop_input_wasm.js';

/** Kernels bdlab registers for the WebAssembly backend (missing there, or too slow for training). */
export const wasmKernels: readonly tf.KernelConfig[] = [conv2DBackpropFilterWasm, conv2DBackpropInputWasm];

/** Replacements for the pure-JS CPU backend's pathological training kernels. */
export const cpuKernels: readonly tf.KernelConfig[] = [];
