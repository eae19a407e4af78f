import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine } from './engine-setup.js';
import { readDatasetInfo, readSplit, type ImageSet } from '../ml/dataset.js';
import { buildModel } from '../ml/models/index.js';
import { trainModel } from '../ml/train.js';
import { EpochTimings, historyMetrics, parameterCounts, writeTrainingOutputs } from '../ml/training-output.js';
import { trainingCallbacks } from './training-callbacks.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { defineStage } from './params.js';

/** The one upstream holding a dataset (fetch or poison output). Shared with transfer-retrain. */
export function datasetInput(ctx: StageContext, stageKind: string): StageInput {
  const candidates = ctx.inputs.filter((input) => existsSync(join(input.dir, 'dataset.json')));
  if (candidates.length !== 1) {
    const found = ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'none';
    throw new StageError(
      `${ctx.id}: ${stageKind} needs exactly one dataset input (the output of a fetch or poison stage, listed in needs); ` +
        `inputs with a dataset.json: ${candidates.length}, all inputs: ${found}.`,
    );
  }
  return candidates[0]!;
}

/** First `limit` images of a set (a view, no copy). */
export function firstImages(set: ImageSet, limit: number | undefined): ImageSet {
  if (limit === undefined || limit >= set.count) return set;
  const size = set.height * set.width * set.channels;
  return { ...set, count: limit, images: set.images.subarray(0, limit * size), labels: set.labels.subarray(0, limit) };
}

const train = defineStage('train')({
  async run(params, ctx) {
    await startEngine(ctx);
    const input = datasetInput(ctx, 'train');
    const info = await readDatasetInfo(input.dir);
    const data = firstImages(await readSplit(input.dir, 'train'), params.limit);
    // train.json records the options in this order (its bytes are part of downstream cache keys).
    const resolved = {
      model: params.model,
      width: params.width,
      epochs: params.epochs,
      batch_size: params.batch_size,
      optimizer: params.optimizer,
      learning_rate: params.learning_rate,
      momentum: params.momentum,
      weight_decay: params.weight_decay,
      schedule: params.schedule,
      augment: params.augment,
      validation_split: params.validation_split,
      seed: params.seed,
      limit: params.limit ?? null,
    };
    const model = buildModel(resolved.model, {
      numClasses: info.classes.length, width: resolved.width, inputShape: [info.height, info.width, info.channels], seed: resolved.seed,
    });
    const counts = parameterCounts(model);
    ctx.log(`${resolved.model} width ${resolved.width}: ${counts.parameters} parameters; training on ${data.count} images from ${input.id}`);
    let history;
    const timings = new EpochTimings();
    try {
      history = await trainModel(model, data, {
        epochs: resolved.epochs, batchSize: resolved.batch_size, optimizer: resolved.optimizer,
        learningRate: resolved.learning_rate, momentum: resolved.momentum, weightDecay: resolved.weight_decay,
        schedule: resolved.schedule, augment: resolved.augment, validationSplit: resolved.validation_split,
        seed: resolved.seed, checkpointDir: join(ctx.scratchDir, 'checkpoints'), signal: ctx.signal,
        ...trainingCallbacks(ctx, timings),
      });
    } catch (err) {
      if (err instanceof RangeError) throw new StageError(`${ctx.id}: ${err.message}`);
      throw err;
    }
    await writeTrainingOutputs(ctx.outDir, model, history, {
      model: resolved.model, ...counts, numClasses: info.classes.length, inputShape: [info.height, info.width, info.channels],
      dataset: { input: input.id, kind: input.kind, images: data.count }, options: resolved,
    });
    model.dispose();
    return { metrics: historyMetrics(history, timings) };
  },
});

export default train;
