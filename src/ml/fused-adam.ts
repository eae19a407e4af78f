import * as tf from '@tensorflow/tfjs';

/** The fused kernel's name (src/engine/kernels/adam_update_wasm.ts registers it; src/ml does not import src/engine). */
const ADAM_UPDATE_KERNEL = 'BdlabAdamUpdate';

type Gradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

/** The AdamOptimizer fields TF.js declares private; the fused step must update exactly these. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * tf.train.adam with the per-variable update done by one `BdlabAdamUpdate` kernel call instead of
 * ~14 element-wise ones, when the active backend registers that kernel; otherwise TF.js' own update.
 * It subclasses AdamOptimizer so that the state (iteration count, m and v slots named `<var>/m`,
 * `<var>/v`, bias-correction powers) and getWeights/setWeights/dispose are TF.js' own, so checkpoints
 * written by either optimizer restore into the other.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: Gradients): void {
    if (tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend()) === undefined) {
      super.applyGradients(variableGradients);
      return;
    }
    const state = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const gradientOf = (name: string, i: number): tf.Tensor | undefined =>
      Array.isArray(variableGradients) ? variableGradients[i]?.tensor : variableGradients[name];
    if (names.some((name, i) => !isFloat32(gradientOf(name, i)) || !isFloat32(tf.engine().registeredVariables[name]))) {
      super.applyGradients(variableGradients);
      return;
    }
    // The powers beta^t live in float32 scalars; the same float32 arithmetic as TF.js' sub/mul keeps
    // the bias correction, and therefore the update, bit-identical to tf.train.adam.
    const accBeta1 = state.accBeta1.dataSync()[0]!;
    const accBeta2 = state.accBeta2.dataSync()[0]!;
    const attrs = {
      learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon,
      oneMinusAccBeta1: Math.fround(1 - accBeta1), oneMinusAccBeta2: Math.fround(1 - accBeta2),
    };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name]!;
        state.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        state.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const gradient = gradientOf(name, i);
        if (gradient == null) return;
        const m = state.accumulatedFirstMoment[i]!.variable;
        const v = state.accumulatedSecondMoment[i]!.variable;
        const inputs = { variable: value, gradient, m, v } as unknown as tf.NamedTensorMap;
        const [newValue, newM, newV] = tf.engine().runKernel(ADAM_UPDATE_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM!);
        v.assign(newV!);
        value.assign(newValue!);
      });
      state.accBeta1.assign(tf.scalar(Math.fround(accBeta1 * Math.fround(this.beta1))));
      state.accBeta2.assign(tf.scalar(Math.fround(accBeta2 * Math.fround(this.beta2))));
    });
    this.incrementIterations();
  }
}

function isFloat32(t: tf.Tensor | undefined): boolean {
  return t === undefined || t.dtype === 'float32';
}

/** Drop-in for tf.train.adam(learningRate, beta1, beta2, epsilon). */
export function fusedAdam(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
