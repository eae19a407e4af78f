import * as tf from '@tensorflow/tfjs';
import type { MaxPoolGradAttrs } from '@tensorflow/tfjs-core';
import { cpuValues, type CpuBackend } from './cpu_data.js';
import { maxPoolGradInto } from './max_pool_grad_loop.js';

/** TF.js' CPU MaxPoolGrad recomputes argmax positions through TensorBuffer accessors; this is one flat pass. */
function maxPoolGrad({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const dx = new Float32Array(tf.util.sizeFromShape(input.shape));
  maxPoolGradInto(info, cpuValues(backend, input), cpuValues(backend, dy), dx);
  return (backend as CpuBackend).makeTensorInfo(input.shape, 'float32', dx);
}

export const maxPoolGradCpu: tf.KernelConfig = {
  kernelName: 'MaxPoolGrad',
  backendName: 'cpu',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
