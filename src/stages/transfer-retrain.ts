import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TriggerSpec } from '../ml/artifacts.js';
import { readSplit, type ImageSet } from '../ml/dataset.js';
import { loadModel } from '../ml/model-io.js';
import { createRng, deriveSeed, sample } from '../ml/rng.js';
import { layerNames, trainModel } from '../ml/train.js';
import { EpochTimings, historyMetrics, parameterCounts, writeTrainingOutputs } from '../ml/training-output.js';
import { trainingCallbacks } from './training-callbacks.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { defineStage } from './params.js';
import { startEngine } from './engine-setup.js';
import { datasetInput } from './train.js';

function modelInput(ctx: StageContext): StageInput {
  const candidates = ctx.inputs.filter((input) => existsSync(join(input.dir, 'model', 'model.json')));
  if (candidates.length !== 1) {
    const found = ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'none';
    throw new StageError(
      `${ctx.id}: transfer-retrain needs exactly one trained model input (the output of a train or transfer-retrain stage, ` +
        `holding model/model.json, listed in needs); model inputs found: ${candidates.length}, all inputs: ${found}.`,
    );
  }
  return candidates[0]!;
}

/** A seeded sample of `fraction` of the set (at least one image), kept in dataset order. */
export function sampleFraction(set: ImageSet, fraction: number, seed: number): ImageSet {
  const k = Math.max(1, Math.min(set.count, Math.round(set.count * fraction)));
  const all = Array.from({ length: set.count }, (_, i) => i);
  const picked = sample(all, k, createRng(deriveSeed(seed, 'transfer-fraction'))).sort((a, b) => a - b);
  const size = set.height * set.width * set.channels;
  const images = new Uint8Array(k * size);
  const labels = new Uint8Array(k);
  picked.forEach((index, i) => {
    images.set(set.images.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = set.labels[index]!;
  });
  return { ...set, images, labels, count: k };
}

/** Gives the last dense layer fresh seeded weights (kernel Glorot-uniform, bias zero); returns its name. */
export function reinitializeHead(model: tf.LayersModel, seed: number): string {
  const head = [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
  if (!head) throw new StageError(`reinit_head: model "${model.name}" has no dense layer to re-initialise.`);
  const fresh = head.getWeights().map((w, i) => (i === 0
    ? tf.initializers.glorotUniform({ seed: deriveSeed(seed, 'reinit-head') % 1_000_000_007 }).apply(w.shape, 'float32')
    : tf.zeros(w.shape)));
  head.setWeights(fresh);
  tf.dispose(fresh);
  return head.name;
}

async function poisonRate(dir: string): Promise<number | undefined> {
  const path = join(dir, 'trigger.json');
  if (!existsSync(path)) return undefined;
  try {
    return (JSON.parse(await readFile(path, 'utf8')) as TriggerSpec).rate;
  } catch {
    return undefined;
  }
}

const transferRetrain = defineStage('transfer-retrain')({
  async run(params, ctx) {
    await startEngine(ctx);
    const source = modelInput(ctx);
    const dataInput = datasetInput(ctx, 'transfer-retrain');
    // train.json records the options in this order (its bytes are part of downstream cache keys).
    const resolved = {
      fraction: params.fraction,
      reinit_head: params.reinit_head,
      freeze_up_to: params.freeze_up_to ?? null,
      epochs: params.epochs,
      batch_size: params.batch_size,
      optimizer: params.optimizer,
      learning_rate: params.learning_rate,
      momentum: params.momentum,
      seed: params.seed,
    };
    const rate = await poisonRate(dataInput.dir);
    if (rate !== undefined && rate > 0) {
      ctx.log(`warning: ${dataInput.id} is poisoned (rate ${rate}); transfer-retrain is meant to retrain on clean data (a fetch output or poison with rate 0)`);
    }
    const model = await loadModel(join(source.dir, 'model'));
    if (resolved.freeze_up_to !== null && !layerNames(model).includes(resolved.freeze_up_to)) {
      throw new StageError(
        `${ctx.id}: freeze_up_to "${resolved.freeze_up_to}" is not a layer of the ${model.name} model from ${source.id}. ` +
          `Valid layer names, input to output: ${layerNames(model).join(', ')}.`,
      );
    }
    const data = sampleFraction(await readSplit(dataInput.dir, 'train'), resolved.fraction, resolved.seed);
    const reinitialized = resolved.reinit_head ? reinitializeHead(model, resolved.seed) : null;
    ctx.log(`retraining ${model.name} from ${source.id} on ${data.count} images of ${dataInput.id}` +
      (reinitialized ? `; re-initialised ${reinitialized}` : '') + (resolved.freeze_up_to ? `; frozen up to ${resolved.freeze_up_to}` : ''));
    const timings = new EpochTimings();
    const history = await trainModel(model, data, {
      epochs: resolved.epochs, batchSize: resolved.batch_size, optimizer: resolved.optimizer, learningRate: resolved.learning_rate,
      momentum: resolved.momentum, seed: resolved.seed, checkpointDir: join(ctx.scratchDir, 'checkpoints'), signal: ctx.signal,
      ...(resolved.freeze_up_to !== null ? { freezeUpTo: resolved.freeze_up_to } : {}),
      ...trainingCallbacks(ctx, timings),
    });
    const counts = parameterCounts(model);
    await writeTrainingOutputs(ctx.outDir, model, history, {
      model: model.name, ...counts, baseModel: { input: source.id, kind: source.kind }, reinitializedLayer: reinitialized,
      dataset: { input: dataInput.id, kind: dataInput.kind, images: data.count, poisonRate: rate ?? null }, options: resolved,
    });
    model.dispose();
    return { metrics: historyMetrics(history, timings) };
  },
});

export default transferRetrain;
