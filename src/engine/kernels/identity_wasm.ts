import type * as tf from '@tensorflow/tfjs';
import { asWasm, type Info } from './wasm_heap.js';

/**
 * TF.js' wasm Identity copies the whole tensor; the optimizers and gradient code call it hundreds of
 * times a step. Tensors are immutable and the wasm backend reference-counts its buffers (Reshape shares
 * them the same way), so sharing the buffer is enough.
 */
function identity({ inputs, backend: anyBackend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): Info {
  const backend = asWasm(anyBackend);
  const { x } = inputs as { x: Info };
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityWasm: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identity as unknown as tf.KernelFunc,
};
