import * as tf from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof tf.initializers.heNormal>;

/** Options every architecture builder accepts; resolved by buildModel. */
export interface ArchitectureOptions {
  numClasses: number;
  /** Channel multiplier: 0.25 keeps resnet34 / vgg16 tractable on CPU. */
  width: number;
  inputShape: [number, number, number];
  seed: number;
}

/** Scaled channel count, never below one. */
export function scaled(channels: number, width: number): number {
  return Math.max(1, Math.round(channels * width));
}

/**
 * Hands out seeded initializers, one distinct seed per weight, so the same model seed always gives
 * the same weights whatever else was built before in the process (TF.js's unseeded initializers
 * draw from a global generator).
 */
export class SeededInit {
  private next: number;
  constructor(seed: number) {
    // Spread model seeds apart so seed s and s+1 do not share all but one layer's initialisation.
    this.next = (Math.imul(seed >>> 0, 0x9e3779b1) >>> 0) % 1_000_000_007;
  }
  private take(): number {
    this.next = (this.next + 7919) % 1_000_000_007;
    return this.next;
  }
  /** For ReLU convolutions and hidden dense layers. */
  he(): Initializer {
    return tf.initializers.heNormal({ seed: this.take() });
  }
  /** For the classifier head, which feeds a softmax rather than a ReLU. */
  glorot(): Initializer {
    return tf.initializers.glorotUniform({ seed: this.take() });
  }
}

/** The final classifier: a linear `logits` layer followed by a separate `probabilities` softmax,
 *  so training can take the numerically stable cross-entropy from logits while the model output
 *  stays probabilities (what evaluate and the one-pixel search read). */
export function classifierHead(x: tf.SymbolicTensor, numClasses: number, init: SeededInit): tf.SymbolicTensor {
  const logits = tf.layers.dense({ units: numClasses, name: 'logits', kernelInitializer: init.glorot(), biasInitializer: 'zeros' }).apply(x) as tf.SymbolicTensor;
  return tf.layers.activation({ activation: 'softmax', name: 'probabilities' }).apply(logits) as tf.SymbolicTensor;
}

export const LOGITS_LAYER = 'logits';
export const PROBABILITIES_LAYER = 'probabilities';
