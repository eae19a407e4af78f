import { Ajv } from 'ajv';
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { schemasDir } from '../../src/common/paths.js';
import type { TrainingHistory } from '../../src/ml/artifacts.js';
import { writeDataset, type ImageSet } from '../../src/ml/dataset.js';
import { loadModel } from '../../src/ml/model-io.js';
import type { StageContext, StageInput, StageProgress } from '../../src/common/stage-contract.js';
import trainStage from '../../src/stages/train.js';
import transferStage from '../../src/stages/transfer-retrain.js';
import { colourSet as colourSetOf, COLOUR_SET_SIDE } from '../helpers/colour-set.js';

const SIDE = COLOUR_SET_SIDE;

const colourSet = (count: number, seed: number): ImageSet => colourSetOf(count, seed, 20);

interface Recorder extends StageContext { logs: string[]; events: StageProgress[]; backends: string[] }

function context(root: string, name: string, inputs: StageInput[]): Recorder {
  const logs: string[] = [];
  const events: StageProgress[] = [];
  const backends: string[] = [];
  const outDir = join(root, name, 'out');
  const scratchDir = join(root, name, 'scratch');
  mkdirSync(outDir, { recursive: true });
  mkdirSync(scratchDir, { recursive: true });
  return {
    id: name, inputs, outDir, scratchDir, dataPath: [], backend: 'cpu',
    progress: (p) => events.push(p), log: (l) => logs.push(l), reportBackend: (b) => backends.push(b.name),
    signal: new AbortController().signal, logs, events, backends,
  };
}

const input = (dir: string, kind: string): StageInput => ({ id: `${kind}-1`, stage: kind, kind, matrix: {}, params: {}, dir });
const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

let root = '';
let dataDir = '';
let poisonedDir = '';
let trained: Recorder;

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'bdlab-train-stage-'));
  dataDir = join(root, 'fetch');
  await writeDataset(dataDir, { name: 'colours', classes: ['red', 'green', 'blue'], height: SIDE, width: SIDE, channels: 3 }, { train: colourSet(40, 1), test: colourSet(9, 2) });
  poisonedDir = join(root, 'poison');
  await writeDataset(poisonedDir, { name: 'colours', classes: ['red', 'green', 'blue'], height: SIDE, width: SIDE, channels: 3 }, { train: colourSet(40, 3) });
  writeFileSync(join(poisonedDir, 'trigger.json'), JSON.stringify({ mode: 'all-to-one', trigger: { row: 0, col: 0, color: [255, 255, 255] }, target: 0, rate: 0.1, seed: 0 }));
});

test.after(() => {
  rmSync(root, { recursive: true, force: true });
});

test('train stage: trains, writes model/, history.json, train.json and returns metrics', async () => {
  trained = context(root, 'train', [input(dataDir, 'fetch')]);
  const result = await trainStage.run({ model: 'cnn', width: 0.125, epochs: 2, batch_size: 8, learning_rate: 0.01, validation_split: 0.25, limit: 32, seed: 3 }, trained);
  const out = trained.outDir;
  const history = readJson<TrainingHistory>(join(out, 'history.json'));
  assert.equal(history.epochs.map((e) => e.epoch), [1, 2]);
  assert.is(history.model, 'cnn');
  const info = readJson<{ model: string; parameters: number; dataset: { images: number }; options: { batch_size: number; optimizer: string; momentum: number; schedule: unknown } }>(join(out, 'train.json'));
  assert.is(info.dataset.images, 32);
  assert.is(info.options.optimizer, 'adam', 'defaults are resolved into train.json');
  assert.equal(info.options.schedule, { type: 'constant' });
  const model = await loadModel(join(out, 'model'));
  assert.is(info.parameters, model.countParams());
  const probs = model.predict(tf.zeros([2, SIDE, SIDE, 3])) as tf.Tensor;
  assert.equal(probs.shape, [2, 3]);
  tf.dispose(probs);
  model.dispose();
  const m = result.metrics!;
  assert.is(m.epochs, 2);
  assert.is(m.finalLoss, history.epochs[1]!.loss);
  assert.is(m.valAccuracy, history.epochs[1]!.valAccuracy);
  assert.ok((m.imagesPerSecond as number) > 0);
  assert.equal(trained.backends, ['cpu']);
  assert.ok(trained.logs.some((l) => /TF\.js backend: cpu/.test(l)), trained.logs.join('\n'));
  assert.ok(trained.events.some((e) => /^epoch 2\/2 batch \d+\/3 loss/.test(e.message ?? '')), 'progress messages');
  assert.ok(trained.events.every((e) => e.fraction! > 0 && e.fraction! <= 1));
  assert.ok(existsSync(join(trained.scratchDir, 'checkpoints', 'latest.json')), 'checkpoints live in scratchDir');
});

test('train stage without a dataset input fails with a clear message', async () => {
  const ctx = context(root, 'no-data', [input(join(root, 'nothing'), 'fetch')]);
  let error: Error | undefined;
  await trainStage.run({ model: 'lenet5' }, ctx).catch((e: Error) => { error = e; });
  assert.is(error?.name, 'StageError');
  assert.match(error!.message, /train needs exactly one dataset input \(the output of a fetch or poison stage/);
  assert.match(error!.message, /fetch-1 \(fetch\)/);
});

test('transfer-retrain: fraction sample, reinit_head, freeze_up_to keeps frozen layers and retrains the rest', async () => {
  const ctx = context(root, 'transfer', [input(trained.outDir, 'train'), input(dataDir, 'fetch')]);
  const result = await transferStage.run({ fraction: 0.5, reinit_head: true, freeze_up_to: 'block2_pool', epochs: 2, batch_size: 8, learning_rate: 0.01, seed: 1 }, ctx);
  const before = await loadModel(join(trained.outDir, 'model'));
  const after = await loadModel(join(ctx.outDir, 'model'));
  const w = (m: tf.LayersModel, layer: string): number[] => m.getLayer(layer).getWeights().flatMap((t) => Array.from(t.dataSync()));
  for (const layer of ['block1_conv1', 'block1_conv2', 'block2_conv1', 'block2_conv2']) assert.equal(w(after, layer), w(before, layer), `${layer} frozen`);
  assert.not.equal(w(after, 'fc1'), w(before, 'fc1'));
  assert.not.equal(w(after, 'logits'), w(before, 'logits'));
  const info = readJson<{ dataset: { images: number }; reinitializedLayer: string; baseModel: { input: string } }>(join(ctx.outDir, 'train.json'));
  assert.is(info.dataset.images, 20);
  assert.is(info.reinitializedLayer, 'logits');
  assert.is(info.baseModel.input, 'train-1');
  const history = readJson<TrainingHistory>(join(ctx.outDir, 'history.json'));
  assert.is(history.epochs.length, 2);
  assert.is(result.metrics!.epochs, 2);
  before.dispose();
  after.dispose();
});

test('transfer-retrain: unknown freeze_up_to lists the valid layer names', async () => {
  const ctx = context(root, 'bad-freeze', [input(trained.outDir, 'train'), input(dataDir, 'fetch')]);
  let error: Error | undefined;
  await transferStage.run({ freeze_up_to: 'conv3', epochs: 1 }, ctx).catch((e: Error) => { error = e; });
  assert.is(error?.name, 'StageError');
  assert.match(error!.message, /freeze_up_to "conv3" is not a layer of the cnn model from train-1/);
  assert.match(error!.message, /Valid layer names, input to output: image, block1_conv1, block1_conv2, block1_pool, block2_conv1/);
});

test('transfer-retrain: missing model input is a clear error; a poisoned dataset draws a warning', async () => {
  let error: Error | undefined;
  await transferStage.run({}, context(root, 'no-model', [input(dataDir, 'fetch')])).catch((e: Error) => { error = e; });
  assert.is(error?.name, 'StageError');
  assert.match(error!.message, /needs exactly one trained model input \(the output of a train or transfer-retrain stage/);
  const ctx = context(root, 'poisoned', [input(trained.outDir, 'train'), input(poisonedDir, 'poison')]);
  await transferStage.run({ fraction: 0.2, epochs: 1, batch_size: 8 }, ctx);
  assert.ok(ctx.logs.some((l) => /poison-1 is poisoned \(rate 0\.1\)/.test(l)), ctx.logs.join('\n'));
});

test('stage schemas: draft-07, versioned, every property described, defaults valid', () => {
  const ajv = new Ajv({ strict: false, useDefaults: true });
  for (const kind of ['train', 'transfer-retrain']) {
    const schema = readJson<{ $schema: string; 'x-bdlab-version': string; additionalProperties: boolean; properties: Record<string, { description?: string }> }>(join(schemasDir(), 'stages', `${kind}.schema.json`));
    assert.is(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.match(String(schema['x-bdlab-version']), /^[1-9][0-9]*$/);
    assert.is(schema.additionalProperties, false);
    for (const [name, prop] of Object.entries(schema.properties)) assert.ok((prop.description ?? '').length > 10, `${kind}.${name} described`);
    const validate = ajv.compile(schema);
    const params: Record<string, unknown> = kind === 'train' ? { model: 'vgg16' } : {};
    assert.ok(validate(params), JSON.stringify(validate.errors));
    assert.is(params.batch_size, 64);
    assert.not.ok(validate({ ...params, bogus: 1 }));
  }
  const train = ajv.compile(readJson<object>(join(schemasDir(), 'stages', 'train.schema.json')));
  assert.ok(train({ model: 'cnn', schedule: { type: 'step', step_size: 3, gamma: 0.1 }, augment: { crop_padding: 4, flip: true } }));
  assert.not.ok(train({ model: 'cnn', schedule: { type: 'step' } }), 'step needs step_size and gamma');
  assert.not.ok(train({ model: 'alexnet' }));
  const augmentText = readFileSync(join(schemasDir(), 'stages', 'train.schema.json'), 'utf8');
  assert.match(augmentText, /AFTER the poison stage has written its trigger pixel/);
});

test.run();
