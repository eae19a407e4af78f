import { existsSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../common/json.js';
import { startEngine } from './engine-setup.js';
import { renderExampleGrid, type ExamplePair } from '../ml/attacks/example-grid.js';
import { selectCorrectlyClassified } from '../ml/attacks/image-selection.js';
import { modelClassCount, modelImageShape, modelPredictor } from '../ml/attacks/model-predictor.js';
import {
  searchOnePixel,
  type AttackedImage,
  type OnePixelMode,
  type OnePixelSearchProgress,
  type PixelSearchResult,
} from '../ml/attacks/one-pixel-search.js';
import { readDatasetInfo, readSplit, type ImageSet } from '../ml/dataset.js';
import { aggregateAttackOutcomes } from '../ml/metrics.js';
import { loadModel, MODEL_JSON } from '../ml/model-io.js';
import { foldBatchNorm } from '../ml/models/fold-batch-norm.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { defineStage, type StageParamsInput } from './params.js';

/** Params as written (defaults may be left out). */
export type OnePixelSearchParams = StageParamsInput<'one-pixel-search'>;

const MODEL_KINDS = ['train', 'transfer-retrain', 'unlearn'];
const DATASET_KINDS = ['fetch', 'poison'];
const CHECKPOINT = 'searched.jsonl';
const PROGRESS_INTERVAL_MS = 500;

function soleInput(ctx: StageContext, kinds: string[], what: string): StageInput {
  const matches = ctx.inputs.filter((i) => kinds.includes(i.kind));
  if (matches.length === 1) return matches[0]!;
  const got = ctx.inputs.length === 0 ? 'no inputs' : `inputs ${ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ')}`;
  throw new StageError(
    `One-pixel search ${ctx.id} needs exactly one ${what} input (kind ${kinds.join(' or ')}) but has ${matches.length} among ${got}. ` +
      `List one ${kinds.join(' or ')} stage and one ${(what === 'model' ? DATASET_KINDS : MODEL_KINDS).join(' or ')} stage under needs.`,
  );
}

/** Searches finished by an earlier, interrupted run of this same instance (same cache key, same params). */
async function readCheckpoint(path: string): Promise<Map<string, PixelSearchResult>> {
  const done = new Map<string, PixelSearchResult>();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return done;
  }
  for (const line of text.split('\n')) {
    try {
      const r = JSON.parse(line) as PixelSearchResult;
      done.set(searchKey(r.image, r.target), r);
    } catch {
      // A line cut short by a kill: that search simply runs again.
    }
  }
  return done;
}

function searchKey(image: number, target: number | null): string {
  return `${image}/${target ?? 'any'}`;
}

function expectedTargets(mode: OnePixelMode, trueClass: number, numClasses: number): (number | null)[] {
  if (mode === 'non-targeted') return [null];
  return Array.from({ length: numClasses }, (_, t) => t).filter((t) => t !== trueClass);
}

/** Successful attacks first, one per image before a second of the same image, then failures. */
function pickExamples(results: PixelSearchResult[], count: number): PixelSearchResult[] {
  const picked: PixelSearchResult[] = [];
  const seenImages = new Set<number>();
  const passes: ((r: PixelSearchResult) => boolean)[] = [
    (r) => r.success && !seenImages.has(r.image),
    (r) => r.success,
    (r) => !seenImages.has(r.image),
  ];
  for (const accept of passes) {
    for (const r of results) {
      if (picked.length >= count) return picked;
      if (!picked.includes(r) && accept(r)) {
        picked.push(r);
        seenImages.add(r.image);
      }
    }
  }
  return picked;
}

function progressReporter(ctx: StageContext): (p: OnePixelSearchProgress, force?: boolean) => void {
  let last = -Infinity;
  return (p, force = false) => {
    const now = Date.now();
    if (!force && now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    ctx.progress({
      message:
        `generation ${p.generation}/${p.generations} best ${p.bestFitness.toFixed(3)} ` +
        `images ${p.imagesDone}/${p.imagesTotal} ${p.imagesPerMinute.toFixed(1)} img/min`,
      fraction: p.searchesTotal === 0 ? 1 : p.searchesDone / p.searchesTotal,
      values: {
        generation: p.generation,
        bestFitness: p.bestFitness,
        imagesDone: p.imagesDone,
        imagesTotal: p.imagesTotal,
        imagesPerMinute: p.imagesPerMinute,
      },
    });
  };
}

const onePixelSearch = defineStage('one-pixel-search')({
  async run(params, ctx) {
    const { mode, images: count, population, generations, mutation, early_stop: earlyStop, seed, batch_size: batchSize, concurrent, examples: exampleCount } = params;

    const modelInput = soleInput(ctx, MODEL_KINDS, 'model');
    const dataInput = soleInput(ctx, DATASET_KINDS, 'dataset');

    const backend = await startEngine(ctx);

    let test: ImageSet;
    let classNames: string[];
    try {
      test = await readSplit(dataInput.dir, 'test');
      classNames = (await readDatasetInfo(dataInput.dir)).classes;
    } catch (err) {
      throw new StageError(`One-pixel search ${ctx.id}: cannot read the test split of input ${dataInput.id}: ${(err as Error).message}.`);
    }
    // train and transfer-retrain keep the model in outputs/model/ (src/ml/training-output.ts).
    const modelDir = existsSync(join(modelInput.dir, 'model', MODEL_JSON)) ? join(modelInput.dir, 'model') : modelInput.dir;
    const model = await loadModel(modelDir).catch((err: Error) => {
      throw new StageError(`One-pixel search ${ctx.id}: cannot load the model of input ${modelInput.id}: ${err.message}.`);
    });
    const shape = { height: test.height, width: test.width, channels: test.channels };
    const modelShape = modelImageShape(model);
    const numClasses = modelClassCount(model) ?? classNames.length;
    if (!modelShape || modelShape.height !== shape.height || modelShape.width !== shape.width || modelShape.channels !== shape.channels) {
      throw new StageError(
        `One-pixel search ${ctx.id}: model ${modelInput.id} expects input ${modelShape ? `${modelShape.height}x${modelShape.width}x${modelShape.channels}` : 'of unknown shape'} ` +
          `but dataset ${dataInput.id} has ${shape.height}x${shape.width}x${shape.channels} images; use a model trained on this dataset.`,
      );
    }
    if (numClasses !== classNames.length) {
      throw new StageError(`One-pixel search ${ctx.id}: model ${modelInput.id} has ${numClasses} outputs but dataset ${dataInput.id} has ${classNames.length} classes.`);
    }
    const inference = foldBatchNorm(model);
    const predict = modelPredictor(inference, shape, numClasses);

    try {
      const selection = await selectCorrectlyClassified(test, predict, count, seed, batchSize, numClasses);
      if (selection.images.length === 0) {
        throw new StageError(
          `One-pixel search ${ctx.id}: model ${modelInput.id} classifies none of the ${selection.examined} test images of ${dataInput.id} correctly, so there is nothing to attack; train the model first (or check that model and dataset belong together).`,
        );
      }
      if (selection.images.length < count) {
        ctx.log(`only ${selection.images.length} of ${test.count} test images are classified correctly; attacking those instead of ${count}`);
      }

      const checkpointPath = join(ctx.scratchDir, CHECKPOINT);
      const previous = await readCheckpoint(checkpointPath);
      const resumed: PixelSearchResult[] = [];
      const pending: AttackedImage[] = [];
      for (const image of selection.images) {
        const found = expectedTargets(mode, image.trueClass, numClasses).map((t) => previous.get(searchKey(image.image, t)));
        if (found.every((r) => r !== undefined)) resumed.push(...(found as PixelSearchResult[]));
        else pending.push(image);
      }
      if (resumed.length > 0) ctx.log(`resuming: ${selection.images.length - pending.length} images already searched by an interrupted run`);

      const report = progressReporter(ctx);
      let lastProgress: OnePixelSearchProgress | undefined;
      const search = await searchOnePixel(pending, predict, {
        mode,
        shape,
        numClasses,
        population,
        generations,
        mutation,
        seed,
        earlyStop,
        maxBatch: batchSize,
        concurrent,
        signal: ctx.signal,
        onProgress: (p) => {
          lastProgress = p;
          report(p);
        },
        onResult: (r) => appendFile(checkpointPath, JSON.stringify(r) + '\n'),
      });
      if (lastProgress) report(lastProgress, true);

      const order = new Map(selection.images.map((img, i) => [img.image, i]));
      const results = [...resumed, ...search.results].sort(
        (a, b) => order.get(a.image)! - order.get(b.image)! || (a.target ?? -1) - (b.target ?? -1),
      );
      const outcomes = results.map(({ image, trueClass, target, predicted, probability }) => ({ image, trueClass, target, predicted, probability }));
      // The content-addressed metrics.json holds only what the results determine, so a rebuild
      // (forced, or resumed after a kill) with identical pixels has an identical content hash and
      // its dependents stay cached. How this process got there (speed, time, evaluations it ran
      // itself, images resumed from a checkpoint) goes to the log and the stage's metrics.
      const resultMetrics: JsonObject = {
        ...aggregateAttackOutcomes(outcomes, numClasses),
        model: modelInput.id,
        dataset: dataInput.id,
        mode,
        images: selection.images.length,
        population,
        generations,
        mutation,
        earlyStop,
        seed,
        backend: backend.name,
      };
      const runMetrics: JsonObject = {
        imagesPerMinute: search.imagesPerMinute,
        searchSeconds: search.seconds,
        forwardFraction: search.seconds > 0 ? search.forwardSeconds / search.seconds : 0,
        evaluations: search.evaluations,
        resumedImages: selection.images.length - pending.length,
      };
      const metrics: JsonObject = { ...resultMetrics, ...runMetrics };
      await writeFile(join(ctx.outDir, 'metrics.json'), JSON.stringify(resultMetrics, null, 2) + '\n');
      await writeFile(join(ctx.outDir, 'pixels.json'), JSON.stringify(results, null, 2) + '\n');

      if (exampleCount > 0) {
        const byIndex = new Map(selection.images.map((img) => [img.image, img]));
        const pairs: ExamplePair[] = pickExamples(results, exampleCount).map((r) => ({
          pixels: byIndex.get(r.image)!.pixels,
          change: { row: r.row, col: r.col, color: r.color },
          success: r.success,
        }));
        await writeFile(join(ctx.outDir, 'examples.png'), renderExampleGrid(pairs, shape));
      }
      ctx.log(
        `${mode} one-pixel search on ${selection.images.length} images: non-targeted success ${(metrics.nonTargetedSuccessRate as number).toFixed(3)}` +
          (mode === 'targeted' ? `, targeted success ${(metrics.targetedSuccessRate as number).toFixed(3)}` : '') +
          `, ${search.imagesPerMinute.toFixed(1)} images/min, ${search.seconds.toFixed(1)} s, ${search.evaluations} evaluations` +
          (runMetrics.resumedImages ? `, ${String(runMetrics.resumedImages)} images resumed` : ''),
      );
      return { metrics };
    } finally {
      if (inference !== model) inference.dispose();
      model.dispose();
    }
  },
});

export default onePixelSearch;
