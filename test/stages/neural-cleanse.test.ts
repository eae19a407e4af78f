import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initEngine } from '../../src/engine/index.js';
import { writeDataset } from '../../src/ml/dataset.js';
import { saveModel } from '../../src/ml/model-io.js';
import { buildModel } from '../../src/ml/models/index.js';
import { poisonTrainingSet } from '../../src/ml/poison.js';
import { trainModel } from '../../src/ml/train.js';
import evaluateStage from '../../src/stages/evaluate.js';
import neuralCleanseStage from '../../src/stages/neural-cleanse.js';
import unlearnStage from '../../src/stages/unlearn.js';
import { testStageContext, testStageInput } from '../helpers/cifar-fixture.js';
import { HUE_CLASSES, HUE_SIDE, hueTask, PLANTED, PLANTED_TARGET } from '../helpers/hue-task.js';

const root = mkdtempSync(join(tmpdir(), 'bdlab-nc-stage-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const dirs = { model: join(root, 'train'), poison: join(root, 'poison'), clean: join(root, 'fetch'), nc: join(root, 'nc'), unlearn: join(root, 'unlearn'), evaluate: join(root, 'evaluate') };
const classes = Array.from({ length: HUE_CLASSES }, (_, k) => `hue${k}`);

test.before(async () => {
  await initEngine('auto');
  const train = hueTask(1000, 1);
  const testSet = hueTask(200, 2);
  const poisoned = poisonTrainingSet(train, { mode: 'all-to-one', rate: 0.15, seed: 1, trigger: PLANTED, target: PLANTED_TARGET, triggers: 'random', numClasses: HUE_CLASSES });
  const info = { name: 'hue', classes, height: HUE_SIDE, width: HUE_SIDE, channels: 3 };
  await writeDataset(dirs.poison, info, { train: poisoned.set, test: testSet });
  await writeFile(join(dirs.poison, 'trigger.json'), JSON.stringify(poisoned.spec));
  await writeDataset(dirs.clean, info, { train, test: testSet });
  const model = buildModel('cnn', { width: 0.25, numClasses: HUE_CLASSES, inputShape: [HUE_SIDE, HUE_SIDE, 3], seed: 3 });
  await trainModel(model, poisoned.set, { epochs: 8, batchSize: 32, optimizer: 'adam', learningRate: 0.003, seed: 5 });
  await saveModel(model, join(dirs.model, 'model'));
  model.dispose();
  for (const dir of [dirs.nc, dirs.unlearn, dirs.evaluate]) await mkdir(dir);
});

test('neural-cleanse stage: verdict, flagged planted class, per-class files, mask grid, progress', async () => {
  const ctx = testStageContext(dirs.nc, join(root, 'nc-scratch'), { inputs: [testStageInput(dirs.model, 'train'), testStageInput(dirs.poison, 'poison')] });
  const result = await neuralCleanseStage.run({ images: 200, steps: 12, batch_size: 50, patience: 3, seed: 7 }, ctx);
  const metrics = JSON.parse(await readFile(join(dirs.nc, 'metrics.json'), 'utf8')) as {
    verdict: string; flagged: number[]; knownTarget: number; knownTargetIndex: number; median: number; mad: number;
    perClass: { class: number; maskNorm: number; anomalyIndex: number; flagged: boolean; steps: number; peakPixel: { row: number; col: number } }[];
  };
  assert.is(metrics.verdict, 'backdoored');
  assert.equal(metrics.flagged, [PLANTED_TARGET]);
  assert.is(metrics.knownTarget, PLANTED_TARGET);
  assert.ok(metrics.knownTargetIndex > 2, `planted class index ${metrics.knownTargetIndex}`);
  assert.is(metrics.perClass.length, HUE_CLASSES);
  const target = metrics.perClass[PLANTED_TARGET]!;
  assert.ok(Math.abs(target.anomalyIndex - Math.abs(target.maskNorm - metrics.median) / metrics.mad) < 1e-4, 'anomaly index = |norm - median| / MAD');
  assert.equal(result.metrics?.['verdict'], 'backdoored');

  const perClassCsv = (await readFile(join(dirs.nc, 'per-class.csv'), 'utf8')).trim().split('\n');
  assert.is(perClassCsv.length, 1 + HUE_CLASSES);
  assert.ok(perClassCsv[1 + PLANTED_TARGET]!.startsWith(`${PLANTED_TARGET},hue${PLANTED_TARGET},`));
  const historyCsv = (await readFile(join(dirs.nc, 'history.csv'), 'utf8')).trim().split('\n');
  assert.is(historyCsv.length, 1 + metrics.perClass.reduce((sum, c) => sum + c.steps, 0));
  const png = PNG.sync.read(await readFile(join(dirs.nc, 'masks.png')));
  assert.equal([png.width, png.height], [HUE_CLASSES * HUE_SIDE * 4 + (HUE_CLASSES + 1) * 4, 2 * HUE_SIDE * 4 + 3 * 4], 'one column per class, mask above mask x pattern');
  const triggers = JSON.parse(await readFile(join(dirs.nc, 'triggers.json'), 'utf8')) as { flagged: number[]; triggers: { mask: number[]; pattern: number[] }[] };
  assert.equal(triggers.flagged, [PLANTED_TARGET]);
  assert.is(triggers.triggers[0]!.mask.length, HUE_SIDE * HUE_SIDE);
  assert.is(triggers.triggers[0]!.pattern.length, HUE_SIDE * HUE_SIDE * 3);

  const values = ctx.progressEvents.map((p) => p.values ?? {});
  assert.ok(values.length >= HUE_CLASSES, `${values.length} progress events`);
  assert.ok(values.every((v) => typeof v['class'] === 'number' && typeof v['step'] === 'number' && typeof v['loss'] === 'number' && typeof v['maskNorm'] === 'number'));
  assert.equal([...new Set(values.map((v) => v['class']))], Array.from({ length: HUE_CLASSES }, (_, k) => k));
});

test('unlearn stage writes a model evaluate takes, and the planted backdoor no longer fires', async () => {
  const before = testStageContext(join(root, 'evaluate-before'), join(root, 'eb'), { inputs: [testStageInput(dirs.model, 'train'), testStageInput(dirs.poison, 'poison')] });
  await mkdir(before.outDir);
  const was = (await evaluateStage.run({}, before)).metrics as Record<string, number>;
  const ctx = testStageContext(dirs.unlearn, join(root, 'unlearn-scratch'), {
    inputs: [testStageInput(dirs.model, 'train'), testStageInput(dirs.nc, 'neural-cleanse'), testStageInput(dirs.clean, 'fetch')],
  });
  await unlearnStage.run({ fraction: 0.5, epochs: 2, learning_rate: 0.001, seed: 3 }, ctx);
  assert.ok(existsSync(join(dirs.unlearn, 'model', 'model.json')));
  const record = JSON.parse(await readFile(join(dirs.unlearn, 'unlearn.json'), 'utf8')) as { unlearnedClasses: number[]; images: number; stamped: number };
  assert.equal(record, { neuralCleanse: 'neural-cleanse-input', unlearnedClasses: [PLANTED_TARGET], images: 500, stamped: 100 } as never);
  const after = testStageContext(dirs.evaluate, join(root, 'ea'), { inputs: [{ ...testStageInput(dirs.unlearn, 'unlearn') }, testStageInput(dirs.poison, 'poison')] });
  const is = (await evaluateStage.run({}, after)).metrics as Record<string, number>;
  assert.ok(was.targetedSuccessRate! > 0.9, `before unlearning ${was.targetedSuccessRate}`);
  assert.ok(is.targetedSuccessRate! < 0.1, `after unlearning ${is.targetedSuccessRate}`);
  assert.ok(is.cleanAccuracy! > 0.9, `clean accuracy after unlearning ${is.cleanAccuracy}`);
});

test.run();
