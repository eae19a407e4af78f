import * as tf from '@tensorflow/tfjs';
import * as assert from 'uvu/assert';
import { loadNativeKernels } from '../../src/engine/native.js';
import { setCustomKernelsEnabled, setNativeKernelsEnabled } from '../../src/engine/registry.js';

/** Test helpers: run one kernel on a backend, with bdlab's kernels or TF.js' pristine ones, and compare. */

export interface HostTensor {
  values: Float32Array | Int32Array;
  shape: number[];
  dtype?: 'float32' | 'int32';
}

let seed = 12345;
/** Deterministic uniform values in [-1, 1) (xorshift), so failures reproduce. */
export function random(shape: number[], zeroEvery = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    values[i] = zeroEvery > 0 && i % zeroEvery === 0 ? 0 : ((seed >>> 0) / 4294967296) * 2 - 1;
  }
  return { values, shape };
}

export function runKernel(backend: 'cpu' | 'wasm', custom: boolean, kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap): HostTensor {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  setCustomKernelsEnabled(backend, custom);
  try {
    const tensors = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape, v.dtype ?? 'float32')]));
    const out = tf.engine().runKernel(kernelName, tensors, attrs) as tf.Tensor;
    const result = { values: out.dataSync() as Float32Array, shape: out.shape.slice() };
    tf.dispose([out, ...Object.values(tensors)]);
    return result;
  } finally {
    setCustomKernelsEnabled(backend, true);
    tf.setBackend(previous);
  }
}

export interface Difference {
  maxAbs: number;
  /** maxAbs relative to the largest reference magnitude. */
  rel: number;
}

export function difference(reference: ArrayLike<number>, actual: ArrayLike<number>): Difference {
  if (reference.length !== actual.length) throw new Error(`length ${actual.length} != reference ${reference.length}`);
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!, a = actual[i]!;
    // NaN where the reference has NaN agrees; NaN on one side only is an infinite difference.
    const d = r === a || (Number.isNaN(r) && Number.isNaN(a)) ? 0 : Number.isNaN(r) || Number.isNaN(a) ? Infinity : Math.abs(r - a);
    if (d > maxAbs) maxAbs = d;
    if (!Number.isNaN(r)) scale = Math.max(scale, Math.abs(r));
  }
  return { maxAbs, rel: maxAbs / (scale || 1) };
}

/** With the addon built, wasm kernels are checked twice: native ones on, and off (our wasm kernels beneath). */
const nativeModes = loadNativeKernels().loaded ? [true, false] : [false];

/** Our wasm kernel against TF.js' pristine CPU kernel on the same inputs. */
export function agrees(kernelName: string, inputs: Record<string, HostTensor>, attrs: tf.NamedAttrMap, tolerance = 1e-5, backend: 'wasm' | 'cpu' = 'wasm'): void {
  const reference = runKernel('cpu', false, kernelName, inputs, attrs);
  for (const native of backend === 'wasm' ? nativeModes : [false]) {
    setNativeKernelsEnabled(native);
    let actual: HostTensor;
    try {
      actual = runKernel(backend, true, kernelName, inputs, attrs);
    } finally {
      setNativeKernelsEnabled(true);
    }
    const mode = native ? 'native' : backend;
    assert.equal(actual.shape, reference.shape, `${kernelName} (${mode}) shape`);
    const d = difference(reference.values, actual.values);
    assert.ok(d.rel <= tolerance, `${kernelName} (${mode}) ${JSON.stringify(attrs)}: max abs ${d.maxAbs}, rel ${d.rel} > ${tolerance}`);
  }
}
