import * as tf from '@tensorflow/tfjs';
import type { MaxPoolGradAttrs } from '@tensorflow/tfjs-core';
import { allocate, asWasm, view, type Info } from './wasm_heap.js';
import { maxPoolGradInto } from './max_pool_grad_loop.js';

/** Routes each dy value to the first maximum of its window (TF.js' CPU tie rule), channels innermost. */
function maxPoolGrad({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { dy, input } = inputs as { dy: Info; input: Info };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const dx = allocate(backend, input.shape);
  maxPoolGradInto(info, view(backend, input), view(backend, dy), view(backend, dx));
  return dx;
}

export const maxPoolGradWasm: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
