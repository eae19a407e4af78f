import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, mkdir, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { JsonObject } from '../../src/common/json.js';
import { hashTree } from '../../src/executor/tree-hash.js';
import { packageRoot } from '../../src/common/paths.js';
import { initEngine } from '../../src/engine/index.js';
import { compileSchema } from '../../src/pipeline/validators.js';
import { CIFAR10_CLASSES, writeDataset } from '../../src/ml/dataset.js';
import { saveModel } from '../../src/ml/model-io.js';
import type { PixelSearchResult } from '../../src/ml/attacks/one-pixel-search.js';
import stage, { type OnePixelSearchParams } from '../../src/stages/one-pixel-search.js';
import type { StageContext, StageInput, StageProgress } from '../../src/common/stage-contract.js';

const GRAY = 128;
const TEST_LABELS = [0, 0, 0, 0, 5, 0, 0, 0];

let root = '';
let modelDir = '';
let dataDir = '';

/**
 * A softmax-linear TF.js model with a planted weakness: class 0 by default; class 3 when pixel
 * (5, 7) turns magenta, with a weak, broad bump around it so the search has a slope to climb.
 */
function plantedModel(): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.flatten({ inputShape: [32, 32, 3] }), tf.layers.dense({ units: 10, activation: 'softmax' })],
  });
  const kernel = new Float32Array(3072 * 10);
  let weightSum = 0;
  for (let row = 0; row < 32; row++) {
    for (let col = 0; col < 32; col++) {
      const d2 = (row - 5) ** 2 + (col - 7) ** 2;
      const w = 0.35 * Math.exp(-d2 / 72) + (d2 === 0 ? 0.65 : 0);
      weightSum += w;
      const p = (row * 32 + col) * 3;
      kernel[p * 10 + 3] = 6 * w;
      kernel[(p + 1) * 10 + 3] = -6 * w;
      kernel[(p + 2) * 10 + 3] = 6 * w;
    }
  }
  const bias = new Float32Array(10);
  bias[0] = 2;
  bias[3] = -3 - 6 * (GRAY / 255) * weightSum;
  model.layers[1]!.setWeights([tf.tensor2d(kernel, [3072, 10]), tf.tensor1d(bias)]);
  return model;
}

function context(outDir: string, scratchDir: string, progress: StageProgress[], inputs?: StageInput[]): StageContext {
  return {
    id: 'search',
    inputs: inputs ?? [
      { id: 'train', stage: 'train', kind: 'train', matrix: {}, params: {}, dir: modelDir },
      { id: 'fetch', stage: 'fetch', kind: 'fetch', matrix: {}, params: {}, dir: dataDir },
    ],
    outDir,
    scratchDir,
    dataPath: [],
    backend: 'cpu',
    progress: (p) => progress.push(p),
    log: () => undefined,
    reportBackend: () => undefined,
    signal: new AbortController().signal,
  };
}

async function runStage(params: OnePixelSearchParams, name: string, scratch = name, progress: StageProgress[] = []) {
  const outDir = join(root, name, 'out');
  const scratchDir = join(root, scratch, 'scratch');
  await mkdir(outDir, { recursive: true });
  await mkdir(scratchDir, { recursive: true });
  const result = await stage.run(params, context(outDir, scratchDir, progress));
  const metrics = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8')) as JsonObject;
  const pixels = JSON.parse(await readFile(join(outDir, 'pixels.json'), 'utf8')) as PixelSearchResult[];
  return { result, metrics, pixels, outDir, progress };
}

test.before(async () => {
  await initEngine('cpu');
  root = await mkdtemp(join(tmpdir(), 'bdlab-onepixel-'));
  modelDir = join(root, 'model');
  dataDir = join(root, 'data');
  await saveModel(plantedModel(), join(modelDir, 'model')); // the layout train writes
  const count = TEST_LABELS.length;
  await writeDataset(dataDir, { name: 'planted', classes: [...CIFAR10_CLASSES], height: 32, width: 32, channels: 3 }, {
    test: { images: new Uint8Array(count * 3072).fill(GRAY), labels: Uint8Array.from(TEST_LABELS), count, height: 32, width: 32, channels: 3 },
  });
});

test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

const SMALL: OnePixelSearchParams = { mode: 'non-targeted', images: 3, population: 50, generations: 80, seed: 3, batch_size: 64, concurrent: 3 };

test('non-targeted stage finds the planted pixel and writes metrics.json, pixels.json, examples.png', async () => {
  const run = await runStage(SMALL, 'a');
  assert.is(run.pixels.length, 3);
  for (const p of run.pixels) {
    assert.ok(p.success);
    assert.equal([p.row, p.col, p.predicted, p.trueClass, p.target], [5, 7, 3, 0, null]);
    assert.is.not(p.image, 4, 'image 4 is misclassified (label 5) and must not be attacked');
  }
  const m = run.metrics;
  assert.is(m.nonTargetedSuccessRate, 1);
  assert.is(m.attemptedImages, 3);
  assert.is(m.images, 3);
  assert.is(m.mode, 'non-targeted');
  assert.is((m.classPairs as number[][])[0]![3], 3);
  assert.equal(m.targetClassHistogram, [0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  // Timing is the stage's metrics (manifest, log), never the content-addressed metrics.json.
  for (const timing of ['imagesPerMinute', 'searchSeconds', 'forwardFraction', 'evaluations', 'resumedImages']) assert.not.ok(timing in m, timing);
  const reported = run.result.metrics!;
  assert.ok((reported.imagesPerMinute as number) > 0);
  assert.ok((reported.searchSeconds as number) > 0);
  assert.ok((reported.evaluations as number) >= 3 * 50);
  assert.is(reported.resumedImages, 0);
  assert.equal({ ...m, imagesPerMinute: reported.imagesPerMinute, searchSeconds: reported.searchSeconds, forwardFraction: reported.forwardFraction, evaluations: reported.evaluations, resumedImages: 0 }, reported);

  // examples.png: 3 pairs of 128×128 cells; the adversarial cell shows the found colour at (5, 7).
  const png = PNG.sync.read(await readFile(join(run.outDir, 'examples.png')));
  assert.is(png.height, 6 + 128 + 6);
  assert.is(png.width, 6 + 3 * (2 * 128 + 6 + 12));
  const first = run.pixels[0]!;
  const x = 6 + 128 + 6 + 7 * 4 + 1;
  const y = 6 + 5 * 4 + 1;
  const i = (y * png.width + x) * 4;
  assert.equal(Array.from(png.data.subarray(i, i + 3)), first.color);
  const o = (y * png.width + 6 + 7 * 4 + 1) * 4;
  assert.equal(Array.from(png.data.subarray(o, o + 3)), [GRAY, GRAY, GRAY]);
  const bar = ((6 + 128 + 2) * png.width + 6 + 128 + 6 + 64) * 4;
  assert.equal(Array.from(png.data.subarray(bar, bar + 3)), [40, 200, 80], 'green bar: attack succeeded');
});

test('progress reports generation and best fitness values', async () => {
  const run = await runStage({ ...SMALL, images: 1 }, 'progress');
  const generations = run.progress.map((p) => p.values?.generation).filter((g): g is number => typeof g === 'number');
  assert.ok(generations.length >= 2, `expected first and final progress, got ${generations.length}`);
  assert.is(generations[0], 0);
  assert.ok(generations.at(-1)! >= 1);
  for (const p of run.progress) assert.type(p.values?.bestFitness, 'number');
  assert.is(run.progress.at(-1)!.values?.imagesDone, 1);
});

test('same seed reproduces the outputs byte for byte: a rebuild, and a run resumed from the scratch checkpoint, have the same content hash', async () => {
  const first = await runStage(SMALL, 'b');
  const again = await runStage(SMALL, 'c');
  assert.equal(again.pixels, first.pixels);
  assert.is(first.result.metrics!.resumedImages, 0);
  const resumed = await runStage(SMALL, 'd', 'b');
  assert.is(resumed.result.metrics!.resumedImages, 3);
  assert.is(resumed.result.metrics!.evaluations, 0);
  assert.equal(resumed.pixels, first.pixels);
  // The executor's content hash of the three output directories (what dependents' keys are built from).
  const [a, b, d] = await Promise.all([first, again, resumed].map((r) => hashTree(r.outDir)));
  assert.equal(a!.files.map((f) => f.path), ['examples.png', 'metrics.json', 'pixels.json']);
  assert.is(b!.contentHash, a!.contentHash, 'a forced rebuild has the same content hash');
  assert.is(d!.contentHash, a!.contentHash, 'a resumed build has the same content hash');
});

test('targeted stage: 9 searches per image, only the planted class is reached', async () => {
  const run = await runStage({ ...SMALL, mode: 'targeted', images: 1, generations: 12, examples: 2 }, 'targeted');
  assert.equal(run.pixels.map((p) => p.target), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(run.pixels.filter((p) => p.success).map((p) => p.target), [3]);
  assert.is(run.metrics.attemptedTargeted, 9);
  assert.ok(Math.abs((run.metrics.targetedSuccessRate as number) - 1 / 9) < 1e-12);
  await access(join(run.outDir, 'examples.png'));
});

test('a missing dataset input is a clear StageError', async () => {
  const outDir = join(root, 'err');
  await mkdir(outDir, { recursive: true });
  const inputs: StageInput[] = [{ id: 'train', stage: 'train', kind: 'train', matrix: {}, params: {}, dir: modelDir }];
  try {
    await stage.run(SMALL, context(outDir, outDir, [], inputs));
    assert.unreachable('should throw');
  } catch (err) {
    assert.is((err as Error).name, 'StageError');
    assert.match((err as Error).message, /needs exactly one dataset input \(kind fetch or poison\) but has 0 among inputs train \(train\)/);
  }
});

test('schema: paper defaults filled in, version annotated, bad params rejected', async () => {
  const schema = JSON.parse(await readFile(join(packageRoot(), 'schemas', 'stages', 'one-pixel-search.schema.json'), 'utf8')) as JsonObject;
  assert.type(schema['x-bdlab-version'], 'string');
  const validate = compileSchema(schema, { useDefaults: true });
  const params: JsonObject = { mode: 'targeted' };
  assert.ok(validate(params));
  assert.equal(params, {
    mode: 'targeted', images: 20, population: 400, generations: 100, mutation: 0.5, early_stop: true, seed: 0,
    batch_size: 256, concurrent: 8, examples: 8,
  });
  for (const bad of [{ population: 3 }, { mode: 'both' }, { mutation: 0 }, { popsize: 10 }, { images: 0 }]) {
    assert.not.ok(validate(bad), `${JSON.stringify(bad)} should be rejected`);
  }
});

test.run();
