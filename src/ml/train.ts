/**
 * The training loop shared by the train and transfer-retrain stages. Choices a reader should know:
 * - Inputs are bytes scaled to [0,1]; the loss is softmax cross-entropy taken from the `logits` layer
 *   (numerically stable), while the model's output stays the softmax probabilities.
 * - Weight decay is coupled L2 on kernels only (see TrainOptions.weightDecay).
 * - Augmentation runs on the stored images, after poisoning: a crop/flip moves the trigger pixel.
 * - Determinism: the validation split, each epoch's shuffle and augmentation derive from (seed, epoch),
 *   and initialisation is seeded, so a run is reproducible on a given backend; and a resumed run
 *   continues with exactly the epochs an uninterrupted one would have run, bit for bit.
 * - Checkpoints hold weights (incl. batch-norm statistics), every bit of optimizer state (slots,
 *   iteration count, Adam's running beta powers) and the history; the learning rate of an epoch and
 *   its random streams are functions of (seed, epoch), so they need no saved position. A
 *   checkpoint whose options differ is ignored rather than resumed.
 * - The history holds no timing (it is content-addressed output: identical weights must give an
 *   identical file); seconds and images/s reach the caller through onEpoch, for logs and metrics.
 */
import * as tf from '@tensorflow/tfjs';
import { adamOptimizer } from '../engine/fused-adam.js';
import type { EpochRecord, TrainingHistory } from './artifacts.js';
import { type AugmentOptions, drawAugment } from './augment.js';
import { imageBatch, labelBatch } from './batches.js';
import type { ImageSet } from './dataset.js';
import { LOGITS_LAYER } from './models/index.js';
import { createRng, deriveSeed, shuffleInPlace } from './rng.js';
import { type LearningRateSchedule, learningRateAt } from './schedule.js';
import { loadCheckpoint, saveCheckpoint, type OptimizerExtraState } from './train-checkpoint.js';

export type { AugmentOptions } from './augment.js';
export type { LearningRateSchedule } from './schedule.js';

export interface TrainProgress {
  /** 1-based. */
  epoch: number;
  epochs: number;
  /** 1-based, within the epoch. */
  batch: number;
  batches: number;
  /** Running means over the epoch so far. */
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  learningRate: number;
  /** SGD only; 0 or absent = plain SGD. */
  momentum?: number;
  /**
   * Coupled L2 regularisation on kernels (conv and dense weights; not biases or batch norm):
   * adds weightDecay/2 * sum(w^2) to the loss, i.e. weightDecay * w to the gradient, which is
   * PyTorch's `weight_decay` for SGD (and "Adam with L2", not AdamW, for Adam).
   */
  weightDecay?: number;
  /** Per epoch; default constant. */
  schedule?: LearningRateSchedule;
  /** Applied to stored (already poisoned) images; see augment.ts for what that does to a trigger. */
  augment?: AugmentOptions;
  /** Fraction 0..<1 of the images held out (seeded choice) for per-epoch validation. */
  validationSplit?: number;
  /** Drives the validation split, per-epoch shuffling and augmentation. */
  seed: number;
  /** Per-epoch checkpoints go here; training resumes from the last one found. */
  checkpointDir?: string;
  /** Throttled to about two calls per second. */
  onProgress?(p: TrainProgress): void;
  /** After each finished (and checkpointed) epoch; timing is only for logs and metrics. */
  onEpoch?(r: EpochRecord, timing: EpochTiming): void;
  /** Checked between batches; abort throws an error named AbortError, keeping the last checkpoint. */
  signal?: AbortSignal;
  /** Freeze every layer up to and including this one (model.layers order). */
  freezeUpTo?: string;
  /** Human-readable notes (resume, checkpoint mismatch). */
  log?(line: string): void;
}

/** How long an epoch took in this process; kept out of the history (see the file comment). */
export interface EpochTiming {
  /** Training plus validation. */
  seconds: number;
  /** Training images per second. */
  imagesPerSecond: number;
}

const PROGRESS_INTERVAL_MS = 500;

/** Layer names in model order, for error messages about freezeUpTo. */
export function layerNames(model: tf.LayersModel): string[] {
  return model.layers.map((l) => l.name);
}

/**
 * Marks layers up to and including `upTo` as not trainable; returns a function restoring the
 * previous flags. Throws a message listing the valid names if `upTo` is not a layer.
 */
export function freezeLayersUpTo(model: tf.LayersModel, upTo: string): () => void {
  const index = frozenLayerCount(model, upTo) - 1;
  const previous = model.layers.map((l) => l.trainable);
  for (let i = 0; i <= index; i++) model.layers[i]!.trainable = false;
  return () => model.layers.forEach((l, i) => { l.trainable = previous[i]!; });
}

function frozenLayerCount(model: tf.LayersModel, upTo: string): number {
  const index = model.layers.findIndex((l) => l.name === upTo);
  if (index < 0) {
    throw new Error(`freeze_up_to: model "${model.name}" has no layer "${upTo}"; valid layer names are: ${layerNames(model).join(', ')}`);
  }
  return index + 1;
}

/**
 * Frozen batch-norm layers still run in training mode (TF.js has no per-layer inference switch), so
 * they would keep updating their moving mean/variance. This snapshot puts the frozen layers'
 * weights back after every epoch, so "frozen" means unchanged in the saved model and checkpoints.
 */
class FrozenWeights {
  private readonly saved: { layer: tf.layers.Layer; values: tf.Tensor[] }[];
  constructor(model: tf.LayersModel, upTo: string) {
    this.saved = model.layers.slice(0, frozenLayerCount(model, upTo))
      .filter((layer) => layer.weights.some((w) => !w.trainable))
      .map((layer) => ({ layer, values: layer.getWeights().map((t) => tf.keep(t.clone())) }));
  }
  restore(): void {
    for (const { layer, values } of this.saved) layer.setWeights(values);
  }
  dispose(): void {
    for (const { values } of this.saved) tf.dispose(values);
  }
}

function abortError(): Error {
  const err = new Error('training aborted');
  err.name = 'AbortError';
  return err;
}

function makeOptimizer(opts: TrainOptions): tf.Optimizer {
  if (opts.optimizer === 'adam') return adamOptimizer(opts.learningRate);
  return (opts.momentum ?? 0) > 0 ? tf.train.momentum(opts.learningRate, opts.momentum!) : tf.train.sgd(opts.learningRate);
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // instanceof is unreliable here: TF.js optimizers define Symbol.hasInstance by duck typing, so
  // every optimizer "is" an SGDOptimizer. SGD and momentum have a setter (it rebuilds their cached
  // -lr scalar); Adam reads its protected learningRate field on every step and has no setter.
  const withSetter = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof withSetter.setLearningRate === 'function') withSetter.setLearningRate(lr);
  else withSetter.learningRate = lr;
}

/**
 * Optimizer state that getWeights() leaves out. Adam keeps its bias corrections beta1^t and beta2^t
 * as float32 running products; its setWeights rebuilds them as pow(beta, t + 1), which differs in
 * the last bits, so a resumed training would drift from an uninterrupted one. The exact float32
 * values are saved instead (as JSON numbers, which hold a float32 exactly).
 */
type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable };

function optimizerExtraState(optimizer: tf.Optimizer): OptimizerExtraState | undefined {
  const adam = optimizer as unknown as AdamInternals;
  if (!adam.accBeta1 || !adam.accBeta2) return undefined;
  return { accBeta1: adam.accBeta1.dataSync()[0]!, accBeta2: adam.accBeta2.dataSync()[0]! };
}

function restoreOptimizerExtraState(optimizer: tf.Optimizer, state: OptimizerExtraState | undefined): void {
  const adam = optimizer as unknown as AdamInternals;
  if (!state || !adam.accBeta1 || !adam.accBeta2) return;
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(state.accBeta1, 'float32'));
    adam.accBeta2!.assign(tf.scalar(state.accBeta2, 'float32'));
  });
}

/** An epoch record without the timing fields that histories written by older versions carry. */
function withoutTiming(record: EpochRecord & { seconds?: number; imagesPerSecond?: number }): EpochRecord {
  const { seconds: _s, imagesPerSecond: _i, ...rest } = record;
  return rest;
}

/**
 * MomentumOptimizer.dispose (tfjs-core 4.22) overrides SGDOptimizer.dispose without calling it, so
 * the cached -learningRate scalar would leak one tensor per training run.
 */
function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const cached = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (cached && !cached.isDisposed) cached.dispose();
}

/** The logits the loss is taken from: the `logits` layer when the model has one, else the output. */
function trainingGraph(model: tf.LayersModel): { net: tf.LayersModel; fromLogits: boolean } {
  const logits = model.layers.find((l) => l.name === LOGITS_LAYER);
  if (logits && model.outputs.length === 1 && model.outputs[0] !== logits.output) {
    return { net: tf.model({ inputs: model.inputs, outputs: logits.output as tf.SymbolicTensor }), fromLogits: true };
  }
  return { net: model, fromLogits: false };
}

function crossEntropy(labels: tf.Tensor1D, output: tf.Tensor, numClasses: number, fromLogits: boolean): tf.Scalar {
  const oneHot = tf.oneHot(labels, numClasses);
  if (fromLogits) return tf.losses.softmaxCrossEntropy(oneHot, output) as tf.Scalar;
  const clipped = tf.clipByValue(output, 1e-7, 1);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(clipped)), -1))) as tf.Scalar;
}

function countCorrect(labels: tf.Tensor1D, output: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(output, -1), labels), 'float32'));
}

/** Everything that must match for a checkpoint to be resumed (epochs may differ: a longer run continues). */
function fingerprint(model: tf.LayersModel, train: ImageSet, opts: TrainOptions): string {
  return JSON.stringify({
    model: model.name, shapes: model.weights.map((w) => w.shape), images: train.count,
    batchSize: opts.batchSize, optimizer: opts.optimizer, learningRate: opts.learningRate, momentum: opts.momentum ?? 0,
    weightDecay: opts.weightDecay ?? 0, schedule: opts.schedule ?? { type: 'constant' }, augment: opts.augment ?? {},
    validationSplit: opts.validationSplit ?? 0, seed: opts.seed, freezeUpTo: opts.freezeUpTo ?? null,
    epochs: opts.schedule?.type === 'cosine' ? opts.epochs : undefined,
  });
}

function validateOptions(train: ImageSet, opts: TrainOptions): void {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new RangeError(`epochs must be an integer >= 1, got ${opts.epochs}`);
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${opts.batchSize}`);
  if (!(opts.learningRate > 0)) throw new RangeError(`learningRate must be > 0, got ${opts.learningRate}`);
  const split = opts.validationSplit ?? 0;
  if (!(split >= 0 && split < 1)) throw new RangeError(`validationSplit must be in [0, 1), got ${split}`);
  if (train.count < 1) throw new RangeError('cannot train on an empty image set');
}

/** Seeded split of 0..count-1 into training and validation indices. */
export function splitIndices(count: number, validationSplit: number, seed: number): { train: Int32Array; val: Int32Array } {
  const order = shuffleInPlace(Array.from({ length: count }, (_, i) => i), createRng(deriveSeed(seed, 'validation-split')));
  const nVal = Math.min(count - 1, Math.round(count * validationSplit));
  return { train: Int32Array.from(order.slice(nVal)), val: Int32Array.from(order.slice(0, nVal).sort((a, b) => a - b)) };
}

function evaluateLoss(net: tf.LayersModel, set: ImageSet, indices: Int32Array, batchSize: number, numClasses: number, fromLogits: boolean): { loss: number; accuracy: number } {
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < indices.length; start += batchSize) {
    const idx = indices.subarray(start, start + batchSize);
    const [l, c] = tf.tidy(() => {
      const x = imageBatch(set, idx);
      const y = labelBatch(set, idx);
      const out = net.apply(x, { training: false }) as tf.Tensor;
      return [crossEntropy(y, out, numClasses, fromLogits).dataSync()[0]!, countCorrect(y, out).dataSync()[0]!];
    });
    lossSum += l * idx.length;
    correct += c;
  }
  return { loss: lossSum / indices.length, accuracy: correct / indices.length };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Trains `model` in place on `train` (bytes scaled to [0,1] on the fly) with a custom loop:
 * seeded shuffling per epoch, optional augmentation, per-epoch learning-rate schedule, optional
 * validation split, per-epoch checkpoints (resumed automatically from `checkpointDir`).
 * Returns the history of all epochs, including those finished before a resume.
 */
export async function trainModel(model: tf.LayersModel, train: ImageSet, opts: TrainOptions): Promise<TrainingHistory> {
  validateOptions(train, opts);
  const numClasses = (model.outputs[0]!.shape[model.outputs[0]!.shape.length - 1] as number | null) ?? 10;
  const { train: trainIdx, val: valIdx } = splitIndices(train.count, opts.validationSplit ?? 0, opts.seed);
  const restoreTrainable = opts.freezeUpTo !== undefined ? freezeLayersUpTo(model, opts.freezeUpTo) : () => {};
  const { net, fromLogits } = trainingGraph(model);
  const optimizer = makeOptimizer(opts);
  const print = fingerprint(model, train, opts);
  const history: EpochRecord[] = [];
  let startEpoch = 0;
  let frozenWeights: FrozenWeights | undefined;
  try {
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    if (variables.length === 0) throw new Error('nothing to train: every layer is frozen');
    const kernels = opts.weightDecay ? model.trainableWeights.filter((w) => /kernel$/.test(w.originalName)).map((w) => w.read()) : [];

    if (opts.checkpointDir) {
      const ckpt = await loadCheckpoint(opts.checkpointDir);
      if (ckpt && (ckpt.state.fingerprint !== print || ckpt.state.epoch > opts.epochs)) {
        opts.log?.(`checkpoint in ${opts.checkpointDir} was written with other options (or more epochs); starting from epoch 1`);
        tf.dispose(ckpt.weights);
        tf.dispose(ckpt.optimizerWeights.map((w) => w.tensor));
      } else if (ckpt) {
        model.setWeights(ckpt.weights);
        tf.dispose(ckpt.weights);
        // Momentum/Adam accumulators are matched by position in the variable list, which is stable for a given model.
        if (ckpt.optimizerWeights.length > 0) await optimizer.setWeights(ckpt.optimizerWeights);
        tf.dispose(ckpt.optimizerWeights.map((w) => w.tensor));
        if (ckpt.state.optimizerState) restoreOptimizerExtraState(optimizer, ckpt.state.optimizerState);
        else if (opts.optimizer === 'adam') opts.log?.('checkpoint predates exact Adam state; the resumed training may differ from an uninterrupted one in the last bits');
        history.push(...ckpt.state.history.map(withoutTiming));
        startEpoch = ckpt.state.epoch;
        opts.log?.(`resuming from checkpoint after epoch ${ckpt.state.epoch}`);
      }
    }

    if (opts.freezeUpTo !== undefined) frozenWeights = new FrozenWeights(model, opts.freezeUpTo);
    const batches = Math.ceil(trainIdx.length / opts.batchSize);
    for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
      if (opts.signal?.aborted) throw abortError();
      const lr = learningRateAt(opts.learningRate, epoch, opts.epochs, opts.schedule);
      setLearningRate(optimizer, lr);
      const rng = createRng(deriveSeed(opts.seed, `epoch-${epoch}`));
      const order = shuffleInPlace(Array.from(trainIdx), rng);
      const epochStart = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let lastProgress = 0;
      for (let b = 0; b < batches; b++) {
        if (opts.signal?.aborted) throw abortError();
        const idx = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        const draws = idx.map(() => drawAugment(opts.augment, rng));
        const x = imageBatch(train, idx, draws);
        const y = labelBatch(train, idx);
        let batchCorrect: tf.Scalar | undefined;
        let batchLoss: tf.Scalar | undefined;
        const total = optimizer.minimize(() => {
          const out = net.apply(x, { training: true }) as tf.Tensor;
          const loss = crossEntropy(y, out, numClasses, fromLogits);
          batchLoss = tf.keep(loss);
          batchCorrect = tf.keep(countCorrect(y, out));
          if (kernels.length === 0) return loss;
          const l2 = tf.addN(kernels.map((k) => tf.sum(tf.square(k))));
          return tf.add(loss, tf.mul(l2, opts.weightDecay! / 2));
        }, true, variables);
        const [lossValue, correctValue] = await Promise.all([batchLoss!.data(), batchCorrect!.data()]);
        tf.dispose([x, y, total!, batchLoss!, batchCorrect!]);
        lossSum += lossValue[0]! * idx.length;
        correct += correctValue[0]!;
        seen += idx.length;
        const now = performance.now();
        if (opts.onProgress && (now - lastProgress >= PROGRESS_INTERVAL_MS || b === batches - 1)) {
          lastProgress = now;
          opts.onProgress({
            epoch: epoch + 1, epochs: opts.epochs, batch: b + 1, batches,
            loss: lossSum / seen, accuracy: correct / seen, imagesPerSecond: seen / ((now - epochStart) / 1000),
          });
        }
        await yieldToEventLoop();
      }
      frozenWeights?.restore();
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const record: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, learningRate: lr };
      if (valIdx.length > 0) {
        const v = evaluateLoss(net, train, valIdx, opts.batchSize, numClasses, fromLogits);
        record.valLoss = v.loss;
        record.valAccuracy = v.accuracy;
      }
      const timing: EpochTiming = { seconds: (performance.now() - epochStart) / 1000, imagesPerSecond: seen / trainSeconds };
      history.push(record);
      if (opts.checkpointDir) {
        const optimizerWeights = await optimizer.getWeights();
        const optimizerState = optimizerExtraState(optimizer);
        await saveCheckpoint(opts.checkpointDir, { epoch: epoch + 1, fingerprint: print, history, ...(optimizerState ? { optimizerState } : {}) },
          model.getWeights().map((tensor, i) => ({ name: `w${i}`, tensor })), optimizerWeights);
        // getWeights() creates the iteration-count scalar; the slots themselves are the optimizer's.
        tf.dispose(optimizerWeights.filter((w) => w.name === 'iter').map((w) => w.tensor));
      }
      opts.onEpoch?.(record, timing);
    }
    return { model: model.name, epochs: history };
  } finally {
    disposeOptimizer(optimizer);
    frozenWeights?.dispose();
    restoreTrainable();
  }
}
