import * as tf from '@tensorflow/tfjs';
import { heap, offset, type KernelArgs } from './native_heap.js';
import { allocate, asWasm, type Info } from './wasm_heap.js';

/**
 * Batch normalization in training as one kernel call forward and one backward. tfjs-layers computes it
 * as tf.moments + tf.batchNorm, whose autodiff gradient is some twenty full-tensor element-wise ops and
 * reductions per layer; together they were the largest share of a ResNet34 step once convolutions were
 * native. These kernels stream the tensor twice in each direction.
 *
 * The kernels exist only for the wasm backend with the addon loaded; callers check
 * `fusedBatchNormAvailable()` and otherwise compute it the standard way.
 */
export const BATCH_NORM_TRAINING = 'BdlabBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD = 'BdlabBatchNormTrainingGrad';

/** Signatures of the addon's fused batch-normalization kernels (native/src/batch_norm.cc). */
export interface NativeBatchNormKernels {
  /** Over x's rows [rows, channels]: mean, biased variance and y = gamma (x - mean) / sqrt(variance + epsilon) + beta. */
  batchNormTraining(memory: ArrayBuffer, x: number, gamma: number, beta: number, y: number, mean: number, variance: number,
    rows: number, channels: number, epsilon: number): void;
  /** dx (through the batch statistics too), dgamma and dbeta from dy and the forward pass's x, mean and variance. */
  batchNormTrainingGrad(memory: ArrayBuffer, dy: number, x: number, gamma: number, mean: number, variance: number,
    dx: number, dgamma: number, dbeta: number, rows: number, channels: number, epsilon: number): void;
}

interface Attrs { epsilon: number }

function rowsAndChannels(x: Info): [number, number] {
  const channels = x.shape[x.shape.length - 1]!;
  return [tf.util.sizeFromShape(x.shape) / channels, channels];
}

/** wasm kernel configs backed by them. */
export function batchNormNative(native: NativeBatchNormKernels): tf.KernelConfig[] {
  const forward = ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info[] => {
    const backend = asWasm(anyBackend);
    const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta: Info };
    const { epsilon } = attrs as unknown as Attrs;
    const [rows, channels] = rowsAndChannels(x);
    const y = allocate(backend, [...x.shape]);
    const mean = allocate(backend, [channels]);
    const variance = allocate(backend, [channels]);
    native.batchNormTraining(heap(backend), offset(backend, x), offset(backend, gamma), offset(backend, beta), offset(backend, y),
      offset(backend, mean), offset(backend, variance), rows, channels, epsilon);
    return [y, mean, variance];
  };

  const backward = ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info[] => {
    const backend = asWasm(anyBackend);
    const { dy, x, gamma, mean, variance } = inputs as { dy: Info; x: Info; gamma: Info; mean: Info; variance: Info };
    const { epsilon } = attrs as unknown as Attrs;
    const [rows, channels] = rowsAndChannels(x);
    const dx = allocate(backend, [...x.shape]);
    const dgamma = allocate(backend, [channels]);
    const dbeta = allocate(backend, [channels]);
    native.batchNormTrainingGrad(heap(backend), offset(backend, dy), offset(backend, x), offset(backend, gamma), offset(backend, mean),
      offset(backend, variance), offset(backend, dx), offset(backend, dgamma), offset(backend, dbeta), rows, channels, epsilon);
    return [dx, dgamma, dbeta];
  };

  const config = (kernelName: string, fn: (args: KernelArgs) => Info[]): tf.KernelConfig =>
    ({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  return [config(BATCH_NORM_TRAINING, forward), config(BATCH_NORM_TRAINING_GRAD, backward)];
}

/**
 * Mean and variance are treated as constants by the gradient (their dys, zeros unless something
 * differentiates through them, are ignored): they feed the moving averages, which take no gradient.
 */
tf.registerGradient({
  kernelName: BATCH_NORM_TRAINING,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const dy = (dys as tf.Tensor[])[0]!;
    const [x, gamma, mean, variance] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    // One kernel call yields all three gradients; the engine asks for them one by one.
    const [dx, dgamma, dbeta] = tf.engine().runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, gamma, mean, variance },
      { epsilon: attrs['epsilon'] as number }) as tf.Tensor[];
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
  },
});

/** Whether the fused op can run on the current backend. */
export function fusedBatchNormAvailable(): boolean {
  return tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend()) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_GRAD, tf.getBackend()) !== undefined;
}

/**
 * Batch normalization over every axis but the last, as in training: returns y and the batch's mean and
 * (biased) variance, each [channels]. Differentiable wrt x, gamma and beta. Needs the fused kernels on
 * the current backend (see fusedBatchNormAvailable).
 */
export function fusedBatchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): [tf.Tensor, tf.Tensor1D, tf.Tensor1D] {
  const channels = x.shape[x.rank - 1];
  if (x.rank < 2 || x.dtype !== 'float32' || gamma.shape[0] !== channels || beta.shape[0] !== channels) {
    throw new Error(`fusedBatchNormTraining: needs float32 x of rank >= 2 and gamma, beta of its last dimension; got x ${x.dtype} [${x.shape}], gamma [${gamma.shape}], beta [${beta.shape}]`);
  }
  const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x, gamma, beta }, { epsilon }) as tf.Tensor[];
  return [y!, mean as tf.Tensor1D, variance as tf.Tensor1D];
}
