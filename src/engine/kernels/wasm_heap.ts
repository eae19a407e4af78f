import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { originalKernel } from '../registry.js';

/**
 * Helpers shared by our WebAssembly kernels.
 *
 * Heap views: every allocation (makeOutput, any kernel call) may grow the wasm memory, which detaches
 * every Float32Array taken over the old buffer. Those views then read zeros or stale data silently.
 * So `view()` must be called only after the last allocation a loop depends on.
 */

export type Info = tf.TensorInfo;

export function asWasm(backend: unknown): BackendWasm {
  return backend as BackendWasm;
}

/** Runs TF.js' own wasm kernel (never one of our overrides, so compositions cannot recurse). */
export function callKernel(backend: BackendWasm, kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): Info {
  const config = originalKernel(kernelName, 'wasm');
  if (config === undefined) throw new Error(`wasm kernel ${kernelName} is not registered`);
  ensureSetUp(config, backend);
  const result = config.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(result)) throw new Error(`wasm kernel ${kernelName} returned several outputs`);
  return result;
}

// TF.js runs a kernel's setupFunc (which binds its wasm export) only for kernels registered when the
// backend is activated; an original we replaced beforehand was never set up, so do it on first use.
const setUp = new WeakMap<BackendWasm, Set<tf.KernelConfig>>();
function ensureSetUp(config: tf.KernelConfig, backend: BackendWasm): void {
  if (config.setupFunc === undefined) return;
  let done = setUp.get(backend);
  if (done === undefined) setUp.set(backend, (done = new Set()));
  if (done.has(config)) return;
  config.setupFunc(backend);
  done.add(config);
}

export function allocate(backend: BackendWasm, shape: number[], dtype: tf.DataType = 'float32'): Info {
  return backend.makeOutput(shape, dtype);
}

export function release(backend: BackendWasm, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** A Float32Array over the tensor's heap memory. Take it after all allocations (see the module comment). */
export function view(backend: BackendWasm, info: Info): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export type Pad4 = [[number, number], [number, number], [number, number], [number, number]];

/** Stride-1 NHWC convolution through XNNPACK with explicit padding and dilation. */
export function conv2d(backend: BackendWasm, x: Info, filter: Info, pad: { top: number; bottom: number; left: number; right: number }, dilations: [number, number]): Info {
  const explicit: Pad4 = [[0, 0], [pad.top, pad.bottom], [pad.left, pad.right], [0, 0]];
  return callKernel(backend, 'Conv2D', { x, filter }, { strides: [1, 1], pad: explicit, dilations, dataFormat: 'NHWC' });
}
