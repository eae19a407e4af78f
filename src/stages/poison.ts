import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OnePixelTrigger } from '../ml/artifacts.js';
import { imageSize, readDatasetInfo, readSplit, writeDataset, type ImageSet } from '../ml/dataset.js';
import { contrastingColor, imageTile, renderImageGrid, type GridTile } from '../ml/png.js';
import { attacksFor, poisonTrainingSet, PoisonConfigError, type PoisonResult } from '../ml/poison.js';
import { applyTrigger } from '../ml/trigger.js';
import { resolveTrigger, TriggerNameError, type TriggerDescription } from '../ml/trigger-names.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { defineStage } from './params.js';

function datasetInput(ctx: StageContext): StageInput {
  const candidates = ctx.inputs.filter((input) => existsSync(join(input.dir, 'dataset.json')));
  if (candidates.length !== 1) {
    const found = ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'none';
    throw new StageError(
      `${ctx.id}: poison needs exactly one dataset input (the output of a fetch stage, listed in needs); ` +
        `inputs with a dataset.json: ${candidates.length}, all inputs: ${found}.`,
    );
  }
  return candidates[0]!;
}

/**
 * Top row clean, bottom row poisoned, trigger pixel framed. With nothing poisoned (rate 0) the
 * bottom row shows what the trigger would look like on those images.
 */
function contactSheet(clean: ImageSet, result: PoisonResult, pairs: number): Buffer {
  const size = imageSize(clean);
  const shown: { index: number; trigger: OnePixelTrigger; poisoned: ImageSet; at: number }[] = [];
  if (result.indices.length > 0) {
    result.indices.slice(0, pairs).forEach((index, k) => {
      const attack = attacksFor(result.spec, result.oldLabels[k]!).find((a) => a.target === result.newLabels[k]);
      shown.push({ index, trigger: attack!.trigger, poisoned: result.set, at: index });
    });
  } else {
    for (let index = 0; index < clean.count && shown.length < pairs; index++) {
      const attack = attacksFor(result.spec, clean.labels[index]!)[0];
      if (!attack) continue;
      // Only this image is copied: a whole-set clone would double the memory of a 50,000-image split.
      const single: ImageSet = { ...clean, images: clean.images.slice(index * size, (index + 1) * size), labels: clean.labels.slice(index, index + 1), count: 1 };
      applyTrigger(single, 0, attack.trigger);
      shown.push({ index, trigger: attack.trigger, poisoned: single, at: 0 });
    }
  }
  if (shown.length === 0) throw new StageError('no image to draw in the contact sheet');
  const top: GridTile[] = shown.map(({ index }) => imageTile(clean, index));
  const bottom: GridTile[] = shown.map(({ trigger, poisoned, at }) =>
    imageTile(poisoned, at, { row: trigger.row, col: trigger.col, color: contrastingColor(trigger.color) }),
  );
  return renderImageGrid([...top, ...bottom], shown.length, 4, 4);
}

const stage = defineStage('poison')({
  async run(params, ctx) {
    const input = datasetInput(ctx);
    const info = await readDatasetInfo(input.dir);
    const train = await readSplit(input.dir, 'train');
    const test = info.splits.test ? await readSplit(input.dir, 'test') : undefined;
    const { mode, seed } = params;
    ctx.progress({ message: `poisoning ${train.count} training images (${mode})` });

    let result: PoisonResult;
    try {
      const { trigger, triggers } = params;
      // The schema holds a colour to 3 bytes (minItems/maxItems), which the derived type cannot express.
      const named = (d: object | string): OnePixelTrigger => resolveTrigger(d as TriggerDescription, info.height, info.width);
      result = poisonTrainingSet(train, {
        mode,
        rate: params.rate,
        seed,
        trigger: trigger === 'random' ? 'random' : named(trigger),
        target: params.target,
        ...(params.sources ? { sources: params.sources } : {}),
        triggers: triggers === 'random' ? 'random' : triggers.map((d) => (d === null ? null : named(d))),
        numClasses: info.classes.length,
      });
    } catch (error) {
      if (error instanceof PoisonConfigError || error instanceof TriggerNameError) {
        throw new StageError(`${ctx.id}: invalid poison params: ${error.message} (dataset ${info.name}: ${info.height}x${info.width} images, ${info.classes.length} classes).`);
      }
      throw error;
    }

    await writeDataset(ctx.outDir, { name: info.name, classes: info.classes, height: info.height, width: info.width, channels: info.channels }, {
      train: result.set,
      ...(test ? { test } : {}),
    });
    await writeFile(join(ctx.outDir, 'trigger.json'), JSON.stringify(result.spec, null, 2) + '\n');
    const perSource = new Array<number>(info.classes.length).fill(0);
    for (const label of result.oldLabels) perSource[label]!++;
    const manifest = {
      mode,
      rate: result.spec.rate,
      seed,
      trigger: result.spec,
      counts: { trainImages: train.count, eligible: result.eligible, poisoned: result.indices.length, perTarget: result.perTarget, perSource },
      indices: result.indices,
      oldLabels: result.oldLabels,
      newLabels: result.newLabels,
    };
    await writeFile(join(ctx.outDir, 'poison-manifest.json'), JSON.stringify(manifest) + '\n');
    const pairs = params.contact_sheet;
    if (pairs > 0) await writeFile(join(ctx.outDir, 'contact-sheet.png'), contactSheet(train, result, pairs));

    const actualRate = result.eligible === 0 ? 0 : result.indices.length / result.eligible;
    ctx.log(`poisoned ${result.indices.length} of ${result.eligible} eligible training images (${(100 * actualRate).toFixed(2)}%)`);
    return { metrics: { poisoned: result.indices.length, eligible: result.eligible, rate: actualRate } };
  },
});

export default stage;
