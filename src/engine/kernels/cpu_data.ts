import type * as tf from '@tensorflow/tfjs';

/** The slice of TF.js' MathBackendCPU our CPU kernels use: typed-array storage and output creation. */
export interface CpuBackend {
  data: { get(dataId: tf.DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

export function cpuValues(backend: unknown, info: tf.TensorInfo): Float32Array {
  return (backend as CpuBackend).data.get(info.dataId).values as Float32Array;
}
