import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heap, offset } from './kernels/native_heap.js';
import { loadNativeKernels } from './native.js';

/** The addon's optimizer kernel (native/src/optimizer.cc). */
export interface NativeOptimizerKernels {
  /**
   * Adam's update of every variable in one call. scalars: beta1, 1 - beta1, beta2, 1 - beta2,
   * 1 - beta1^t, 1 - beta2^t, epsilon, -learning rate (each exactly representable in float32); table:
   * 8 numbers per variable: size, then byte offsets of gradient, value, value out, first moment, its
   * out, second moment, its out (an out may equal its input: updated in place).
   */
  adamUpdate(memory: ArrayBuffer, scalars: Float64Array, table: Float64Array): void;
}

/** AdamOptimizer's private state, which the fused update reads and writes exactly as TF.js does. */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
}

type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

/**
 * TF.js' Adam with its per-variable arithmetic done by one native call per step (see
 * native/src/optimizer.cc): the same float32 operations in the same order, so the same bits, in one
 * kernel call instead of ~12 per variable. Everything else (slot variables and their names,
 * getWeights/setWeights, the bias-correction powers, the iteration count) is TF.js' own, so
 * checkpoints are interchangeable. Off the wasm backend it is plain TF.js Adam.
 */
class FusedAdamOptimizer extends tf.AdamOptimizer {
  constructor(private readonly native: NativeOptimizerKernels, learningRate: number, beta1: number, beta2: number) {
    super(learningRate, beta1, beta2);
  }

  override applyGradients(variableGradients: VariableGradients): void {
    const entries = this.entries(variableGradients);
    if (tf.getBackend() !== 'wasm' || entries.some(({ value, gradient }) => value.dtype !== 'float32' || (gradient !== undefined && gradient.dtype !== 'float32'))) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const backend = tf.backend() as BackendWasm;
    const slot = (slots: AdamState['accumulatedFirstMoment'], i: number, value: tf.Variable, suffix: string): tf.Variable => {
      slots[i] ??= { originalName: `${value.name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      return slots[i]!.variable;
    };
    const f = Math.fround;
    const [beta1Power, beta2Power] = [state.accBeta1.dataSync()[0]!, state.accBeta2.dataSync()[0]!];
    const scalars = new Float64Array([
      f(state.beta1), f(1 - state.beta1), f(state.beta2), f(1 - state.beta2),
      f(1 - beta1Power), f(1 - beta2Power), f(state.epsilon), f(-state.learningRate),
    ]);
    // A variable's memory is updated in place when nothing else refers to it (the usual case after the
    // first step); otherwise the update goes to a fresh tensor that the variable is then assigned.
    const replacements: { variable: tf.Variable; out: tf.TensorInfo }[] = [];
    const target = (variable: tf.Variable): tf.TensorInfo => {
      if (backend.refCount(variable.dataId) === 1) return variable;
      const out = backend.makeOutput(variable.shape, 'float32');
      replacements.push({ variable, out });
      return out;
    };
    const rows: tf.TensorInfo[][] = [];
    entries.forEach(({ value, gradient }, i) => {
      const first = slot(state.accumulatedFirstMoment, i, value, 'm');
      const second = slot(state.accumulatedSecondMoment, i, value, 'v');
      if (gradient === undefined) return;
      rows.push([gradient, value, target(value), first, target(first), second, target(second)]);
    });
    // Offsets only after the last allocation, which may have grown (and replaced) the heap.
    const table = new Float64Array(rows.length * 8);
    rows.forEach((row, r) => {
      table[8 * r] = tf.util.sizeFromShape(row[0]!.shape);
      row.forEach((info, c) => { table[8 * r + 1 + c] = offset(backend, info); });
    });
    this.native.adamUpdate(heap(backend), scalars, table);
    for (const { variable, out } of replacements) {
      const tensor = tf.engine().makeTensorFromTensorInfo(out);
      variable.assign(tensor);
      tensor.dispose();
    }
    tf.tidy(() => {
      state.accBeta1.assign(tf.scalar(f(beta1Power * f(state.beta1))));
      state.accBeta2.assign(tf.scalar(f(beta2Power * f(state.beta2))));
    });
    this.incrementIterations();
  }

  /** The variables in TF.js' order (slots are matched by position) with their gradients, if any. */
  private entries(variableGradients: VariableGradients): { value: tf.Variable; gradient: tf.Tensor | undefined }[] {
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const variables = tf.engine().registeredVariables;
    return names.map((name, i) => ({
      value: variables[name]!,
      gradient: (Array.isArray(variableGradients) ? variableGradients[i]!.tensor : variableGradients[name]) as tf.Tensor | undefined ?? undefined,
    }));
  }
}

/**
 * An Adam optimizer: the fused native one when bdlab's addon is loaded, else TF.js' own. Both give
 * the same bits (a test trains with each and compares the weights).
 */
export function adamOptimizer(learningRate: number, beta1 = 0.9, beta2 = 0.999): tf.Optimizer {
  const native = loadNativeKernels();
  return native.loaded ? new FusedAdamOptimizer(native.kernels, learningRate, beta1, beta2) : tf.train.adam(learningRate, beta1, beta2);
}
