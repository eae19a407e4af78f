import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { startEngine } from './engine-setup.js';
import type { AttackMetrics, OnePixelTrigger, TriggerSpec } from '../ml/artifacts.js';
import { imageRange } from '../ml/batches.js';
import { imageSize, readDatasetInfo, readSplit, type ImageSet } from '../ml/dataset.js';
import { accuracy, aggregateAttackOutcomes, type AttackOutcome } from '../ml/metrics.js';
import { loadModel } from '../ml/model-io.js';
import { foldBatchNorm } from '../ml/models/fold-batch-norm.js';
import { attacksFor } from '../ml/poison.js';
import { applyTrigger } from '../ml/trigger.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { defineStage } from './params.js';
import { shiftTriggerSpec, TriggerShiftError, type TriggerShift } from '../ml/trigger-shift.js';

/** Class probabilities for a batch of images: rows of `numClasses` values. */
export type BatchPredictor = (batch: ImageSet) => Promise<Float32Array>;

export interface Prediction {
  predicted: Uint8Array;
  probability: Float32Array;
}

export interface BackdoorEvaluation {
  metrics: AttackMetrics;
  clean: Prediction;
  outcomes: AttackOutcome[];
}

const MODEL_KINDS = ['train', 'transfer-retrain', 'unlearn'];

function argmaxRows(probs: Float32Array, rows: number, numClasses: number, into: Prediction, offset: number): void {
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++) if (probs[r * numClasses + k]! > probs[r * numClasses + best]!) best = k;
    into.predicted[offset + r] = best;
    into.probability[offset + r] = probs[r * numClasses + best]!;
  }
}

/** Copies images start..end-1 into their own set (so triggers can be stamped without touching the source). */
function sliceCopy(set: ImageSet, start: number, end: number): ImageSet {
  const size = imageSize(set);
  return { ...set, images: set.images.slice(start * size, end * size), labels: set.labels.slice(start, end), count: end - start };
}

/**
 * The backdoor metrics from predictions: clean predictions on `test`, then for every distinct trigger
 * of the spec, predictions on triggered copies; each (image, trigger, target) from attacksFor becomes
 * one AttackOutcome. With `onlyCorrect`, images misclassified without the trigger are not attacked.
 */
export async function evaluateBackdoor(
  predict: BatchPredictor,
  test: ImageSet,
  spec: TriggerSpec,
  options: { batchSize: number; numClasses: number; onlyCorrect?: boolean; onProgress?: (done: number, total: number) => void },
): Promise<BackdoorEvaluation> {
  const { batchSize, numClasses } = options;
  const triggers: OnePixelTrigger[] = spec.mode === 'per-target' ? (spec.triggers ?? []).filter((t): t is OnePixelTrigger => t !== null) : spec.trigger ? [spec.trigger] : [];
  const triggerKey = (t: OnePixelTrigger): string => `${t.row},${t.col},${t.color.join(',')}`;
  const distinct = [...new Map(triggers.map((t) => [triggerKey(t), t])).values()];
  const clean: Prediction = { predicted: new Uint8Array(test.count), probability: new Float32Array(test.count) };
  const triggered = distinct.map(() => ({ predicted: new Uint8Array(test.count), probability: new Float32Array(test.count) }));
  const total = test.count * (1 + distinct.length);
  let done = 0;
  for (let start = 0; start < test.count; start += batchSize) {
    const end = Math.min(test.count, start + batchSize);
    const batch = sliceCopy(test, start, end);
    argmaxRows(await predict(batch), end - start, numClasses, clean, start);
    done += end - start;
    for (const [k, trigger] of distinct.entries()) {
      const stamped = sliceCopy(test, start, end);
      for (let i = 0; i < stamped.count; i++) applyTrigger(stamped, i, trigger);
      argmaxRows(await predict(stamped), end - start, numClasses, triggered[k]!, start);
      done += end - start;
    }
    options.onProgress?.(done, total);
  }

  const byKey = new Map(distinct.map((t, k) => [triggerKey(t), triggered[k]!]));
  const outcomes: AttackOutcome[] = [];
  for (let i = 0; i < test.count; i++) {
    const trueClass = test.labels[i]!;
    if (options.onlyCorrect && clean.predicted[i] !== trueClass) continue;
    for (const { trigger, target } of attacksFor(spec, trueClass, numClasses)) {
      const p = byKey.get(triggerKey(trigger))!;
      outcomes.push({ image: i, trueClass, target, predicted: p.predicted[i]!, probability: p.probability[i]! });
    }
  }
  const acc = accuracy(clean.predicted, test.labels, numClasses);
  const metrics: AttackMetrics = { cleanAccuracy: acc.overall, perClassAccuracy: acc.perClass, ...aggregateAttackOutcomes(outcomes, numClasses) };
  return { metrics, clean, outcomes };
}

/** Predictions of a Layers model on byte images (scaled to [0,1] as in training); logits get a softmax. */
export function layersPredictor(model: tf.LayersModel, numClasses: number): BatchPredictor {
  return async (batch) => {
    const output = tf.tidy(() => {
      // Without batchSize, predict() slices the input into batches of 32, several times slower on wasm.
      const y = model.predict(imageRange(batch, 0, batch.count), { batchSize: batch.count }) as tf.Tensor;
      if (y.shape.length !== 2 || y.shape[1] !== numClasses) {
        throw new StageError(`the model outputs shape [${y.shape.join(', ')}], but the dataset has ${numClasses} classes.`);
      }
      const isProbability = y.min().dataSync()[0]! >= 0 && y.sum(-1).sub(1).abs().max().dataSync()[0]! < 1e-3;
      return isProbability ? y : tf.softmax(y);
    });
    try {
      return new Float32Array(await output.data<'float32'>());
    } finally {
      output.dispose();
    }
  };
}

function modelInput(ctx: StageContext): StageInput {
  const matches = ctx.inputs.filter((i) => MODEL_KINDS.includes(i.kind));
  if (matches.length === 1) return matches[0]!;
  throw new StageError(
    `${ctx.id}: evaluate needs exactly one model input (kind ${MODEL_KINDS.join(' or ')}) but has ${matches.length} ` +
      `among ${ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'no inputs'}. List one train or transfer-retrain stage and one poison stage under needs.`,
  );
}

function triggerInput(ctx: StageContext): StageInput {
  const matches = ctx.inputs.filter((i) => existsSync(join(i.dir, 'trigger.json')) && existsSync(join(i.dir, 'dataset.json')));
  if (matches.length === 1) return matches[0]!;
  throw new StageError(
    `${ctx.id}: evaluate needs exactly one dataset input with a trigger.json (a poison output; for a clean model use a poison stage, ` +
      `e.g. with rate 0, to provide the trigger) but has ${matches.length} among ${ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'no inputs'}.`,
  );
}

function csv(rows: (string | number)[][]): string {
  const cell = (v: string | number): string => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return rows.map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

async function writeReports(outDir: string, test: ImageSet, classes: string[], result: BackdoorEvaluation): Promise<void> {
  const perClass = classes.map(() => ({ count: 0, attempts: 0, targetedHits: 0, images: new Set<number>(), flipped: new Set<number>() }));
  for (let i = 0; i < test.count; i++) perClass[test.labels[i]!]!.count++;
  for (const o of result.outcomes) {
    const row = perClass[o.trueClass]!;
    row.images.add(o.image);
    if (o.predicted !== o.trueClass) row.flipped.add(o.image);
    if (o.target !== null && o.target !== o.trueClass) {
      row.attempts++;
      if (o.predicted === o.target) row.targetedHits++;
    }
  }
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  await writeFile(join(outDir, 'per-class.csv'), csv([
    ['class', 'name', 'test_images', 'clean_accuracy', 'attacked_images', 'targeted_attempts', 'targeted_success_rate', 'non_targeted_success_rate'],
    ...perClass.map((r, c) => [c, classes[c]!, r.count, result.metrics.perClassAccuracy![c]!, r.images.size, r.attempts, ratio(r.targetedHits, r.attempts), ratio(r.flipped.size, r.images.size)]),
  ]));
  await writeFile(join(outDir, 'class-pairs.csv'), csv([
    ['original', ...classes.map((_, t) => `to_${t}`)],
    ...result.metrics.classPairs.map((row, c) => [`${c} ${classes[c]}`, ...row]),
  ]));
  const rows: (string | number)[][] = [['image', 'true_class', 'condition', 'target', 'predicted', 'probability']];
  for (let i = 0; i < test.count; i++) rows.push([i, test.labels[i]!, 'clean', '', result.clean.predicted[i]!, Number(result.clean.probability[i]!.toFixed(6))]);
  for (const o of result.outcomes) rows.push([o.image, o.trueClass, 'triggered', o.target ?? '', o.predicted, Number(o.probability.toFixed(6))]);
  await writeFile(join(outDir, 'predictions.csv'), csv(rows));
}

/** The poison's trigger spec, moved by `trigger_shift` when given; a shift off the image is the user's error. */
function shiftedSpec(spec: TriggerSpec, shift: Partial<TriggerShift> | undefined, geometry: { height: number; width: number }, id: string): TriggerSpec {
  if (!shift) return spec;
  const by = { row: shift.row ?? 0, col: shift.col ?? 0 };
  try {
    return shiftTriggerSpec(spec, by, geometry);
  } catch (error) {
    if (!(error instanceof TriggerShiftError)) throw error;
    throw new StageError(`${id}: params.trigger_shift {row: ${by.row}, col: ${by.col}} is invalid: ${error.message}. Choose a shift that keeps the pixel inside the image (or leave this instance out with the matrix's exclude).`);
  }
}

const stage = defineStage('evaluate')({
  async run(params, ctx) {
    const modelIn = modelInput(ctx);
    const dataIn = triggerInput(ctx);
    const backend = await startEngine(ctx);

    const trained = JSON.parse(await readFile(join(dataIn.dir, 'trigger.json'), 'utf8')) as TriggerSpec;
    const info = await readDatasetInfo(dataIn.dir);
    const spec = shiftedSpec(trained, params.trigger_shift, info, ctx.id);
    if (!info.splits.test) throw new StageError(`${ctx.id}: dataset ${dataIn.id} has no test split to evaluate on.`);
    const full = await readSplit(dataIn.dir, 'test');
    const test = params.limit !== undefined && params.limit < full.count ? sliceCopy(full, 0, params.limit) : full;
    const numClasses = info.classes.length;

    const modelDir = existsSync(join(modelIn.dir, 'model', 'model.json')) ? join(modelIn.dir, 'model') : modelIn.dir;
    let model: tf.LayersModel;
    try {
      model = await loadModel(modelDir);
    } catch (error) {
      throw new StageError(`${ctx.id}: cannot load the model of ${modelIn.id}: ${(error as Error).message}.`);
    }
    const inputShape = model.inputs[0]?.shape ?? [];
    if (inputShape[1] !== test.height || inputShape[2] !== test.width || inputShape[3] !== test.channels) {
      throw new StageError(`${ctx.id}: the model of ${modelIn.id} expects input [${inputShape.slice(1).join(', ')}], but the test images are [${test.height}, ${test.width}, ${test.channels}].`);
    }

    const started = Date.now();
    const inference = foldBatchNorm(model);
    let result: BackdoorEvaluation;
    try {
      result = await evaluateBackdoor(layersPredictor(inference, numClasses), test, spec, {
        batchSize: params.batch_size,
        numClasses,
        onlyCorrect: params.only_correct,
        onProgress: (done, total) => {
          const seconds = (Date.now() - started) / 1000;
          ctx.progress({ message: `predicted ${done}/${total} images`, fraction: done / total, values: { imagesPerSecond: Math.round(done / Math.max(seconds, 1e-3)) } });
        },
      });
    } finally {
      if (inference !== model) inference.dispose();
      model.dispose();
    }

    const m = result.metrics;
    const shift = params.trigger_shift ? { triggerShift: { row: params.trigger_shift.row ?? 0, col: params.trigger_shift.col ?? 0 } } : {};
    const metricsFile = { ...m, model: modelIn.id, dataset: dataIn.id, mode: spec.mode, trigger: spec, ...shift, images: test.count, onlyCorrect: params.only_correct, backend: backend.name };
    await writeFile(join(ctx.outDir, 'metrics.json'), JSON.stringify(metricsFile, null, 2) + '\n');
    await writeReports(ctx.outDir, test, info.classes, result);
    ctx.log(`clean accuracy ${(100 * m.cleanAccuracy!).toFixed(2)}%, targeted success ${(100 * m.targetedSuccessRate).toFixed(2)}% (${m.attemptedTargeted} attempts), non-targeted ${(100 * m.nonTargetedSuccessRate).toFixed(2)}%`);
    return {
      metrics: {
        cleanAccuracy: m.cleanAccuracy!,
        targetedSuccessRate: m.targetedSuccessRate,
        nonTargetedSuccessRate: m.nonTargetedSuccessRate,
        targetedConfidence: m.targetedConfidence,
        nonTargetedConfidence: m.nonTargetedConfidence,
        images: test.count,
      },
    };
  },
});

export default stage;
