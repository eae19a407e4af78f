import type * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';
import { permute } from './transpose_loop.js';

/** TF.js' wasm Transpose costs ~25 ns per element; a strided JS copy over the heap is 4-10x faster. */
function transpose({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { x } = inputs as { x: Info };
  const { perm } = attrs as unknown as tf.TransposeAttrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return callKernel(backend, 'Transpose', inputs, attrs);
  return transposeInfo(backend, x, perm);
}

export function transposeInfo(backend: ReturnType<typeof asWasm>, x: Info, perm: readonly number[]): Info {
  const out = allocate(backend, perm.map((p) => x.shape[p]), x.dtype);
  if (out.shape.every((d) => d > 0)) {
    permute(backend.typedArrayFromHeap(x) as Float32Array, x.shape, perm, backend.typedArrayFromHeap(out) as Float32Array);
  }
  return out;
}

export const transposeWasm: tf.KernelConfig = {
  kernelName: 'Transpose',
  backendName: 'wasm',
  kernelFunc: transpose as unknown as tf.KernelFunc,
};
