/**
 * Neural Cleanse's trigger reverse-engineering (Wang et al., "Neural Cleanse: Identifying and
 * Mitigating Backdoor Attacks in Neural Networks", S&P 2019), written for TF.js on our models:
 *
 * for a target class t, find a mask m (one value in [0,1] per pixel) and a pattern p (RGB in [0,1])
 * such that x' = (1 - m) * x + m * p is classified as t for clean images x, while |m|_1 stays small:
 *   minimise  CE(f(x'), t) + lambda * |m|_1  with Adam.
 * m and p are optimised through tanh (m = tanh(u) / (2 - eps) + 1/2), so they stay in range without
 * clipping. lambda follows the paper's schedule: it starts at `initialCost`; after `patience`
 * consecutive steps with the attack success at or above `attackThreshold` it is multiplied by
 * `costMultiplier`, after `patience` steps below it divided by costMultiplier^1.5 (down faster than
 * up, as in the paper's code). The smallest mask that reached the threshold is kept. A step is one
 * pass over the clean images in mini-batches. Early stopping: once lambda has gone both up and down
 * and the best norm has not improved by 1 % for `earlyStopPatience` steps.
 *
 * Everything random (initial pattern, batch order) derives from the seed and the class, so
 * a run is reproducible on a given backend and a class's result does not depend on the others.
 */
import * as tf from '@tensorflow/tfjs';
import { adamOptimizer } from '../../engine/fused-adam.js';
import { imageBatch } from '../batches.js';
import { type ImageSet, imageSize } from '../dataset.js';
import { LOGITS_LAYER } from '../models/index.js';
import { createRng, deriveSeed, shuffleInPlace } from '../rng.js';
import { anomalyReport, type AnomalyReport } from './anomaly.js';

export interface ReverseOptions {
  /** Passes over the clean images per class (the paper: up to 1000 at 1/2 of a GTSRB epoch each). */
  steps: number;
  batchSize: number;
  /** Adam's learning rate on the tanh parameters (the paper: 0.1, betas 0.5 and 0.9). */
  learningRate: number;
  /** lambda at the start (the paper: 1e-3). */
  initialCost: number;
  /** Attack success a mask must reach to count (the paper: 0.99). */
  attackThreshold: number;
  /** Steps of success (failure) before lambda goes up (down) (the paper: 5). */
  patience: number;
  /** Factor lambda goes up by; it goes down by its 1.5th power (the paper: 1.5). */
  costMultiplier: number;
  earlyStop: boolean;
  /** Steps without a 1 % improvement of the best norm before stopping (the paper: 5 x patience). */
  earlyStopPatience: number;
  seed: number;
  signal?: AbortSignal;
  onProgress?(p: ReverseProgress): void;
}

export interface ReverseProgress {
  target: number;
  /** 1-based. */
  step: number;
  steps: number;
  loss: number;
  /** |m|_1 of the current mask. */
  maskNorm: number;
  attackSuccess: number;
  cost: number;
}

export interface StepRecord {
  step: number;
  loss: number;
  crossEntropy: number;
  maskNorm: number;
  attackSuccess: number;
  cost: number;
}

export interface ReversedTrigger {
  target: number;
  /** [H * W] in [0,1]. */
  mask: Float32Array;
  /** [H * W * C] in [0,1]. */
  pattern: Float32Array;
  /** |m|_1 of `mask`. */
  norm: number;
  /** Whether some mask reached the attack threshold; if not, `mask` is the last one. */
  reachedThreshold: boolean;
  /** Steps run (fewer than asked after an early stop). */
  steps: number;
  history: StepRecord[];
}

const TANH_EPSILON = 1e-7;
/**
 * Every mask value at the start. The paper's code starts from random masks (|m|_1 about half the
 * image) and shrinks them over hundreds of passes; starting almost empty, the mask grows only where
 * the class needs it, which converges in the few dozen passes a CPU affords, and a one-pixel
 * trigger shows up as one pixel within the first passes.
 */
const INITIAL_MASK = 0.01;
const IMPROVEMENT = 0.99;

/** The network up to its logits (cross-entropy from logits is numerically stable). */
export function logitsModel(model: tf.LayersModel): tf.LayersModel {
  const logits = model.layers.find((l) => l.name === LOGITS_LAYER);
  if (logits && model.outputs.length === 1 && model.outputs[0] !== logits.output) {
    return tf.model({ inputs: model.inputs, outputs: logits.output as tf.SymbolicTensor });
  }
  return model;
}

/** Inverse of the tanh parametrisation, for initial values in [0,1]. */
function toTanhSpace(values: Float32Array): Float32Array {
  return values.map((v) => Math.atanh((v - 0.5) * (2 - TANH_EPSILON)));
}

function fromTanhSpace(u: tf.Tensor): tf.Tensor {
  return tf.add(tf.div(tf.tanh(u), 2 - TANH_EPSILON), 0.5);
}

/** x' = (1 - m) * x + m * p on a batch in [0,1]. */
export function stampSoftTrigger(x: tf.Tensor4D, mask: tf.Tensor, pattern: tf.Tensor): tf.Tensor4D {
  return tf.add(tf.mul(tf.sub(1, mask), x), tf.mul(mask, pattern)) as tf.Tensor4D;
}

/** Reverse-engineers the smallest trigger that sends `images` to `target`. */
export async function reverseTrigger(net: tf.LayersModel, images: ImageSet, target: number, options: ReverseOptions): Promise<ReversedTrigger> {
  const { height, width, channels } = images;
  const rng = createRng(deriveSeed(options.seed, `neural-cleanse/${target}`));
  const initMask = new Float32Array(height * width).fill(INITIAL_MASK);
  const initPattern = new Float32Array(height * width * channels).map(() => rng.next());
  const maskParam = tf.variable(tf.tensor3d(toTanhSpace(initMask), [height, width, 1]), true, `nc_mask_${target}`);
  const patternParam = tf.variable(tf.tensor3d(toTanhSpace(initPattern), [height, width, channels]), true, `nc_pattern_${target}`);
  const optimizer = adamOptimizer(options.learningRate, 0.5, 0.9);
  const order = Array.from({ length: images.count }, (_, i) => i);

  let cost = options.initialCost;
  let upCounter = 0;
  let downCounter = 0;
  let wentUp = false;
  let wentDown = false;
  let best: { mask: Float32Array; pattern: Float32Array; norm: number } | null = null;
  let earlyStopBest = Infinity;
  let earlyStopCounter = 0;
  const history: StepRecord[] = [];

  try {
    for (let step = 1; step <= options.steps; step++) {
      if (options.signal?.aborted) throw Object.assign(new Error('neural cleanse aborted'), { name: 'AbortError' });
      shuffleInPlace(order, rng);
      let loss = 0;
      let crossEntropy = 0;
      let hits = 0;
      for (let start = 0; start < order.length; start += options.batchSize) {
        const indices = order.slice(start, start + options.batchSize);
        const x = imageBatch(images, indices);
        const labels = tf.oneHot(tf.fill([indices.length], target, 'int32') as tf.Tensor1D, net.outputs[0]!.shape[1]!);
        const lambda = tf.scalar(cost);
        let batchCe: tf.Scalar | undefined;
        let batchHits: tf.Scalar | undefined;
        const batchLoss = optimizer.minimize(() => {
          const mask = fromTanhSpace(maskParam);
          const pattern = fromTanhSpace(patternParam);
          const logits = net.apply(stampSoftTrigger(x, mask, pattern), { training: false }) as tf.Tensor2D;
          const ce = tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
          batchCe = tf.keep(ce.clone());
          batchHits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), target), 'float32')) as tf.Scalar);
          return tf.add(ce, tf.mul(lambda, tf.sum(mask))) as tf.Scalar;
        }, true, [maskParam, patternParam])!;
        loss += (await batchLoss.data())[0]! * indices.length;
        crossEntropy += (await batchCe!.data())[0]! * indices.length;
        hits += (await batchHits!.data())[0]!;
        tf.dispose([x, labels, lambda, batchLoss, batchCe!, batchHits!]);
      }
      const attackSuccess = hits / order.length;
      const mask = tf.tidy(() => fromTanhSpace(maskParam));
      const maskNorm = (await tf.sum(mask).data())[0]!;
      const record = { step, loss: loss / order.length, crossEntropy: crossEntropy / order.length, maskNorm, attackSuccess, cost };
      history.push(record);
      options.onProgress?.({ target, step, steps: options.steps, loss: record.loss, maskNorm, attackSuccess, cost });

      if (attackSuccess >= options.attackThreshold && maskNorm < (best?.norm ?? Infinity)) {
        const pattern = tf.tidy(() => fromTanhSpace(patternParam));
        best = { mask: new Float32Array(await mask.data()), pattern: new Float32Array(await pattern.data()), norm: maskNorm };
        pattern.dispose();
      }
      mask.dispose();

      if (best) {
        earlyStopCounter = best.norm >= IMPROVEMENT * earlyStopBest ? earlyStopCounter + 1 : 0;
        earlyStopBest = Math.min(earlyStopBest, best.norm);
      }
      if (options.earlyStop && wentUp && wentDown && earlyStopCounter >= options.earlyStopPatience) break;

      if (attackSuccess >= options.attackThreshold) {
        upCounter++;
        downCounter = 0;
      } else {
        upCounter = 0;
        downCounter++;
      }
      if (upCounter >= options.patience) {
        upCounter = 0;
        cost *= options.costMultiplier;
        wentUp = true;
      } else if (downCounter >= options.patience) {
        downCounter = 0;
        cost /= options.costMultiplier ** 1.5;
        wentDown = true;
      }
    }
    if (best) return { target, ...best, reachedThreshold: true, steps: history.length, history };
    const [mask, pattern] = tf.tidy(() => [fromTanhSpace(maskParam), fromTanhSpace(patternParam)]);
    const last = { mask: new Float32Array(await mask!.data()), pattern: new Float32Array(await pattern!.data()) };
    tf.dispose([mask!, pattern!]);
    return { target, ...last, norm: last.mask.reduce((s, v) => s + v, 0), reachedThreshold: false, steps: history.length, history };
  } finally {
    maskParam.dispose();
    patternParam.dispose();
    optimizer.dispose();
  }
}

/** A trigger as byte images see it: x' = round((1 - m) * x + m * 255 p). Writes into `set` in place. */
export function stampTrigger(set: ImageSet, index: number, trigger: Pick<ReversedTrigger, 'mask' | 'pattern'>): void {
  const size = imageSize(set);
  const base = index * size;
  const { channels } = set;
  for (let pixel = 0; pixel < set.height * set.width; pixel++) {
    const m = trigger.mask[pixel]!;
    if (m === 0) continue;
    for (let c = 0; c < channels; c++) {
      const o = base + pixel * channels + c;
      set.images[o] = Math.round((1 - m) * set.images[o]! + m * 255 * trigger.pattern[pixel * channels + c]!);
    }
  }
}

/**
 * Fraction of the images not of class `target` that the stamped trigger sends to `target` (the
 * trigger's attack success, measured on byte images like any other trigger).
 */
export async function triggerAttackSuccess(net: tf.LayersModel, images: ImageSet, trigger: ReversedTrigger, batchSize: number): Promise<number> {
  const size = imageSize(images);
  const others = Array.from({ length: images.count }, (_, i) => i).filter((i) => images.labels[i] !== trigger.target);
  if (others.length === 0) return 0;
  let hits = 0;
  for (let start = 0; start < others.length; start += batchSize) {
    const indices = others.slice(start, start + batchSize);
    const stamped: ImageSet = { ...images, count: indices.length, images: new Uint8Array(indices.length * size), labels: new Uint8Array(indices.length) };
    indices.forEach((source, i) => {
      stamped.images.set(images.images.subarray(source * size, (source + 1) * size), i * size);
      stampTrigger(stamped, i, trigger);
    });
    const count = tf.tidy(() => {
      const logits = net.predict(imageBatch(stamped, indices.map((_, i) => i)), { batchSize: indices.length }) as tf.Tensor2D;
      return tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), trigger.target), 'float32'));
    });
    hits += (await count.data())[0]!;
    count.dispose();
  }
  return hits / others.length;
}

export interface NeuralCleanseResult {
  triggers: (ReversedTrigger & { attackSuccess: number })[];
  anomaly: AnomalyReport;
}

/** Reverses a trigger for every class (`classes`, default all), then runs the outlier test on their norms. */
export async function neuralCleanse(
  model: tf.LayersModel,
  images: ImageSet,
  numClasses: number,
  options: ReverseOptions & { evaluationBatchSize?: number },
): Promise<NeuralCleanseResult> {
  const net = logitsModel(model);
  const triggers: NeuralCleanseResult['triggers'] = [];
  for (let target = 0; target < numClasses; target++) {
    const reversed = await reverseTrigger(net, images, target, options);
    const attackSuccess = await triggerAttackSuccess(net, images, reversed, options.evaluationBatchSize ?? 256);
    triggers.push({ ...reversed, attackSuccess });
  }
  return { triggers, anomaly: anomalyReport(triggers.map((t) => t.norm)) };
}
