import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TriggerSpec } from '../../src/ml/artifacts.js';
import { readDatasetInfo, readSplit, writeDataset } from '../../src/ml/dataset.js';
import { generateSynthetic } from '../../src/ml/synthetic.js';
import stage from '../../src/stages/poison.js';
import { StageError } from '../../src/common/stage-contract.js';
import { testStageContext, testStageInput } from '../helpers/cifar-fixture.js';

let root = '';
let datasetDir = '';

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bdlab-poison-stage-'));
  datasetDir = join(root, 'fetch');
  const data = generateSynthetic({ train: 100, test: 30, seed: 1, difficulty: 0.2 });
  await writeDataset(datasetDir, { name: 'synthetic', classes: data.classes, height: 32, width: 32, channels: 3 }, { train: data.train, test: data.test });
});
test.after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function runPoison(name: string, params: Parameters<typeof stage.run>[0]) {
  const outDir = join(root, name);
  await mkdir(outDir);
  const ctx = testStageContext(outDir, join(root, `${name}-scratch`), { inputs: [testStageInput(datasetDir, 'fetch')] });
  const result = await stage.run(params, ctx);
  return { outDir, result, ctx };
}

test('all-to-one: poisoned train split, clean test split, trigger, manifest, contact sheet', async () => {
  const { outDir, result } = await runPoison('a2o', { mode: 'all-to-one', target: 0, rate: 0.1, seed: 3, trigger: { row: 31, col: 0, color: [255, 255, 0] } });
  assert.equal(result.metrics, { poisoned: 9, eligible: 90, rate: 0.1 });
  const spec = JSON.parse(await readFile(join(outDir, 'trigger.json'), 'utf8')) as TriggerSpec;
  assert.equal(spec.trigger, { row: 31, col: 0, color: [255, 255, 0] });
  assert.is(spec.target, 0);
  const manifest = JSON.parse(await readFile(join(outDir, 'poison-manifest.json'), 'utf8'));
  assert.is(manifest.indices.length, 9);
  assert.is(manifest.counts.poisoned, 9);
  const train = await readSplit(outDir, 'train');
  const cleanTrain = await readSplit(datasetDir, 'train');
  for (const [k, index] of (manifest.indices as number[]).entries()) {
    assert.is(train.labels[index], 0);
    assert.is(cleanTrain.labels[index], manifest.oldLabels[k]);
    const at = index * 3072 + 31 * 32 * 3;
    assert.equal(Array.from(train.images.subarray(at, at + 3)), [255, 255, 0]);
  }
  assert.equal(await readSplit(outDir, 'test'), await readSplit(datasetDir, 'test'), 'test split stays clean');
  assert.is((await readDatasetInfo(outDir)).splits.train!.count, 100);
  const png = PNG.sync.read(await readFile(join(outDir, 'contact-sheet.png')));
  assert.is(png.width, 8 * 128 + 9 * 4);
  assert.is(png.height, 2 * 128 + 3 * 4);
  // Frame around the first poisoned tile's trigger pixel (row 31, col 0, upscaled x4): its right edge is at
  // x = gap + 4, y = gap + tile + gap + 31*4, in the colour contrasting with yellow (magenta).
  const o = ((4 + 128 + 4 + 31 * 4) * png.width + (4 + 4)) * 4;
  assert.equal(Array.from(png.data.subarray(o, o + 3)), [255, 0, 255]);
  // the trigger pixel itself stays visible inside the frame
  const p = ((4 + 128 + 4 + 31 * 4 + 1) * png.width + (4 + 1)) * 4;
  assert.equal(Array.from(png.data.subarray(p, p + 3)), [255, 255, 0]);
});

test('rate 0 copies the data unchanged and still writes a trigger', async () => {
  const { outDir, result } = await runPoison('clean', { mode: 'all-to-one', target: 2, rate: 0, seed: 1 });
  assert.equal(result.metrics, { poisoned: 0, eligible: 90, rate: 0 });
  assert.equal(await readSplit(outDir, 'train'), await readSplit(datasetDir, 'train'));
  assert.ok(existsSync(join(outDir, 'contact-sheet.png')));
  const spec = JSON.parse(await readFile(join(outDir, 'trigger.json'), 'utf8')) as TriggerSpec;
  const t = spec.trigger!;
  // Column 0 of the bottom row shows the first non-target training image stamped, although nothing was poisoned.
  const png = PNG.sync.read(await readFile(join(outDir, 'contact-sheet.png')));
  const o = ((4 + 128 + 4 + t.row * 4 + 1) * png.width + (4 + t.col * 4 + 1)) * 4;
  assert.equal(Array.from(png.data.subarray(o, o + 3)), t.color);
});

test('per-target with random triggers is deterministic under seed', async () => {
  const a = await runPoison('pt-a', { mode: 'per-target', rate: 0.2, seed: 5 });
  const b = await runPoison('pt-b', { mode: 'per-target', rate: 0.2, seed: 5 });
  assert.equal(a.result.metrics, { poisoned: 20, eligible: 100, rate: 0.2 });
  assert.equal(await readFile(join(a.outDir, 'poison-manifest.json')), await readFile(join(b.outDir, 'poison-manifest.json')));
  assert.equal(await readFile(join(a.outDir, 'train.images.u8')), await readFile(join(b.outDir, 'train.images.u8')));
});

test('bad params and missing inputs are StageErrors naming the problem', async () => {
  try {
    await runPoison('bad', { mode: 'all-to-one', target: 1, sources: [1], rate: 0.1 });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, StageError);
    assert.match((error as Error).message, /invalid poison params: sources must not contain the target class 1/);
  }
  const outDir = join(root, 'no-input');
  await mkdir(outDir);
  try {
    await stage.run({}, testStageContext(outDir, outDir));
    assert.unreachable();
  } catch (error) {
    assert.instance(error, StageError);
    assert.match((error as Error).message, /poison needs exactly one dataset input/);
  }
});

test.run();
