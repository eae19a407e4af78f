import type * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, view, type Info } from './wasm_heap.js';

/** Kernel name of the fused Adam step; src/ml/fused-adam.ts uses it when the active backend has it. */
export const ADAM_UPDATE_KERNEL = 'BdlabAdamUpdate';

/**
 * Attributes of one Adam step. `oneMinusAccBeta1/2` are 1 - beta^t as the optimizer holds them (float32),
 * so bias correction follows the same rounding as tf.train.adam.
 */
export interface AdamUpdateAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
}

const f32 = Math.fround;

/**
 * One Adam step over flat float32 arrays. TF.js' Adam is ~14 element-wise kernels per variable, each
 * rounding to float32; rounding every intermediate with Math.fround in the same order reproduces those
 * results exactly (+ - * / and sqrt are correctly rounded in both), in a single pass over memory.
 */
export function adamStep(
  value: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
  newValue: Float32Array, newM: Float32Array, newV: Float32Array, a: AdamUpdateAttrs,
): void {
  const b1 = f32(a.beta1);
  const b2 = f32(a.beta2);
  const c1 = f32(1 - a.beta1);
  const c2 = f32(1 - a.beta2);
  const bc1 = f32(a.oneMinusAccBeta1);
  const bc2 = f32(a.oneMinusAccBeta2);
  const eps = f32(a.epsilon);
  const negLr = f32(-a.learningRate);
  for (let i = 0; i < value.length; i++) {
    const g = grad[i]!;
    const mi = f32(f32(m[i]! * b1) + f32(g * c1));
    const vi = f32(f32(v[i]! * b2) + f32(f32(g * g) * c2));
    newM[i] = mi;
    newV[i] = vi;
    const mHat = f32(mi / bc1);
    const vHat = f32(vi / bc2);
    const ratio = f32(mHat / f32(f32(Math.sqrt(vHat)) + eps));
    newValue[i] = f32(ratio * negLr) + value[i]!;
  }
}

function adamUpdate({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info[] {
  const backend = asWasm(anyBackend);
  const { variable, gradient, m, v } = inputs as { variable: Info; gradient: Info; m: Info; v: Info };
  for (const t of [variable, gradient, m, v]) {
    if (t.dtype !== 'float32') throw new Error(`${ADAM_UPDATE_KERNEL} needs float32 tensors, got ${t.dtype}`);
  }
  const outValue = allocate(backend, variable.shape);
  const outM = allocate(backend, variable.shape);
  const outV = allocate(backend, variable.shape);
  // Views only now: the allocations above may have grown (and detached) the heap.
  adamStep(view(backend, variable), view(backend, gradient), view(backend, m), view(backend, v),
    view(backend, outValue), view(backend, outM), view(backend, outV), attrs as unknown as AdamUpdateAttrs);
  return [outValue, outM, outV];
}

export const adamUpdateWasm: tf.KernelConfig = {
  kernelName: ADAM_UPDATE_KERNEL,
  backendName: 'wasm',
  kernelFunc: adamUpdate as unknown as tf.KernelFunc,
};
