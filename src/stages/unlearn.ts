import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSplit } from '../ml/dataset.js';
import { unlearningSet } from '../ml/defence/unlearn.js';
import { loadModel } from '../ml/model-io.js';
import { trainModel } from '../ml/train.js';
import { EpochTimings, historyMetrics, parameterCounts, writeTrainingOutputs } from '../ml/training-output.js';
import { trainingCallbacks } from './training-callbacks.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { startEngine } from './engine-setup.js';
import { TRIGGERS_FILE, type TriggersFile } from './neural-cleanse.js';
import { defineStage } from './params.js';

function soleInput(ctx: StageContext, test: (input: StageInput) => boolean, what: string): StageInput {
  const matches = ctx.inputs.filter(test);
  if (matches.length === 1) return matches[0]!;
  throw new StageError(
    `${ctx.id}: unlearn needs exactly one ${what} input but has ${matches.length} among ` +
      `${ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'no inputs'}. List a model stage (train, transfer-retrain, unlearn), ` +
      'a neural-cleanse stage and a clean dataset (fetch, or poison with rate 0) under needs.',
  );
}

const stage = defineStage('unlearn')({
  async run(params, ctx) {
    const modelIn = soleInput(ctx, (i) => existsSync(join(i.dir, 'model', 'model.json')), 'model (holding model/model.json)');
    const cleanseIn = soleInput(ctx, (i) => existsSync(join(i.dir, TRIGGERS_FILE)), `neural-cleanse (holding ${TRIGGERS_FILE})`);
    const dataIn = soleInput(ctx, (i) => existsSync(join(i.dir, 'dataset.json')), 'dataset');
    await startEngine(ctx);
    const reversed = JSON.parse(await readFile(join(cleanseIn.dir, TRIGGERS_FILE), 'utf8')) as TriggersFile;
    const triggers = reversed.flagged.map((k) => {
      const t = reversed.triggers[k]!;
      return { target: t.target, mask: Float32Array.from(t.mask), pattern: Float32Array.from(t.pattern) };
    });
    const clean = await readSplit(dataIn.dir, 'train');
    if (clean.height !== reversed.height || clean.width !== reversed.width || clean.channels !== reversed.channels) {
      throw new StageError(`${ctx.id}: the triggers of ${cleanseIn.id} are ${reversed.height}x${reversed.width}x${reversed.channels}, the images of ${dataIn.id} ${clean.height}x${clean.width}x${clean.channels}.`);
    }
    const { set, stamped } = unlearningSet(clean, triggers, { fraction: params.fraction, triggerFraction: params.trigger_fraction, seed: params.seed });
    const model = await loadModel(join(modelIn.dir, 'model'));
    ctx.log(triggers.length > 0
      ? `unlearning the reversed triggers of classes [${reversed.flagged.join(', ')}] (flagged by ${cleanseIn.id}): ${stamped.length} of ${set.count} clean images of ${dataIn.id} stamped, true labels kept`
      : `${cleanseIn.id} flagged no class: fine-tuning on ${set.count} clean images of ${dataIn.id} without triggers`);
    const timings = new EpochTimings();
    const history = await trainModel(model, set, {
      epochs: params.epochs, batchSize: params.batch_size, optimizer: params.optimizer, learningRate: params.learning_rate,
      seed: params.seed, checkpointDir: join(ctx.scratchDir, 'checkpoints'), signal: ctx.signal,
      ...trainingCallbacks(ctx, timings),
    });
    await writeTrainingOutputs(ctx.outDir, model, history, {
      model: model.name, ...parameterCounts(model), baseModel: { input: modelIn.id, kind: modelIn.kind },
      dataset: { input: dataIn.id, kind: dataIn.kind, images: set.count }, options: params,
    });
    await writeFile(join(ctx.outDir, 'unlearn.json'), JSON.stringify({ neuralCleanse: cleanseIn.id, unlearnedClasses: reversed.flagged, images: set.count, stamped: stamped.length }, null, 2) + '\n');
    model.dispose();
    return { metrics: { ...historyMetrics(history, timings), unlearnedClasses: reversed.flagged.length, stamped: stamped.length } };
  },
});

export default stage;
