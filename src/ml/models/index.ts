import type * as tf from '@tensorflow/tfjs';
import { buildCnn } from './cnn.js';
import { buildLenet5 } from './lenet5.js';
import { buildResnet34 } from './resnet34.js';
import { buildVgg16 } from './vgg16.js';
import type { ArchitectureOptions } from './layers-util.js';

export { LOGITS_LAYER, PROBABILITIES_LAYER } from './layers-util.js';

export type ModelName = 'cnn' | 'lenet5' | 'resnet34' | 'vgg16';
export const MODEL_NAMES: readonly ModelName[] = ['cnn', 'lenet5', 'resnet34', 'vgg16'];

export interface BuildModelOptions {
  /** Default 10 (CIFAR-10). */
  numClasses?: number;
  /** Channel multiplier, default 1. */
  width?: number;
  /** HWC, default [32, 32, 3]. */
  inputShape?: [number, number, number];
  /** Initialisation seed, default 0: same seed, same weights. */
  seed?: number;
}

const BUILDERS: Record<ModelName, (opts: ArchitectureOptions) => tf.LayersModel> = {
  cnn: buildCnn,
  lenet5: buildLenet5,
  resnet34: buildResnet34,
  vgg16: buildVgg16,
};

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/**
 * Builds an untrained classifier. Input: NHWC float images scaled to [0,1] (bytes / 255).
 * Output: softmax probabilities [N, numClasses]; the layer before it, named `logits`, is the last dense layer.
 */
export function buildModel(name: ModelName, opts: BuildModelOptions = {}): tf.LayersModel {
  const builder = BUILDERS[name];
  if (!builder) throw new Error(`unknown model "${name}"; valid models: ${MODEL_NAMES.join(', ')}`);
  const width = opts.width ?? 1;
  if (!(width > 0)) throw new Error(`model width multiplier must be > 0, got ${width}`);
  return builder({
    numClasses: opts.numClasses ?? 10,
    width,
    inputShape: opts.inputShape ?? [32, 32, 3],
    seed: opts.seed ?? 0,
  });
}
