import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { cacheKeyOf, fingerprintRecord, type CacheKey, type ContentHash } from '../../src/executor/fingerprint.js';
import { analyzePipelineText, loadStageKinds, type Plan } from '../../src/pipeline/index.js';

/**
 * The keys of the stages that long real-data runs depend on (fetch, poison, train,
 * transfer-retrain) must not move when the code around them is refactored. The pipelines are
 * copies of pipelines/quickstart.yaml and of the training part of pipelines/paper.yaml as they
 * were when the keys were pinned, so editing those files does not touch this test; the keys were
 * computed on main before stage params moved to schema-derived types and ajv-filled defaults.
 */
const QUICKSTART = `
name: quickstart
stages:
  data:
    kind: fetch
    params: { dataset: cifar10, subset: { train: 10000, test: 2000 } }
  poison:
    kind: poison
    needs: [data]
    matrix: { rate: [0, 0.1] }
    params: { mode: all-to-one, trigger: { row: 16, col: 16, color: [255, 0, 255] }, target: 0, rate: "\${{ matrix.rate }}", seed: 1 }
  train:
    kind: train
    needs: [poison]
    params: { model: cnn, width: 0.5, epochs: 4, batch_size: 64, optimizer: adam, learning_rate: 0.001, seed: 1 }
`;

const PAPER = `
name: paper
defaults:
  train: { epochs: 10, batch_size: 64, optimizer: adam, learning_rate: 0.001, seed: 1 }
  transfer-retrain: { fraction: 0.2, epochs: 5, batch_size: 64, optimizer: adam, learning_rate: 0.0001, seed: 1 }
stages:
  data: { kind: fetch, params: { dataset: cifar10 } }
  poison:
    kind: poison
    needs: [data]
    params: { mode: all-to-one, trigger: { row: 16, col: 16, color: [255, 0, 255] }, target: 0, rate: 0.1, seed: 1 }
  train-clean:
    kind: train
    needs: [data]
    matrix: &models { model: [cnn, lenet5, resnet34, vgg16], width: [1, 0.25] }
    exclude: &model-widths
      - { model: cnn, width: 0.25 }
      - { model: lenet5, width: 0.25 }
      - { model: resnet34, width: 1 }
      - { model: vgg16, width: 1 }
    params: { model: "\${{ matrix.model }}", width: "\${{ matrix.width }}" }
  train-poisoned:
    kind: train
    needs: [poison]
    matrix: *models
    exclude: *model-widths
    params: { model: "\${{ matrix.model }}", width: "\${{ matrix.width }}" }
  transfer:
    kind: transfer-retrain
    needs: [train-poisoned, data]
    params: { reinit_head: false }
`;

/**
 * Every instance's key, with each upstream's content hash replaced by a stand-in derived from its
 * key (real content hashes need real outputs); the params, versions and wiring are what is pinned.
 */
function keysOf(plan: Plan): Record<string, string> {
  const versions = new Map([...loadStageKinds()].map(([kind, info]) => [kind, info.version]));
  const known = new Map<string, { key: CacheKey; contentHash: ContentHash }>();
  const keys: Record<string, string> = {};
  for (const inst of plan.instances) {
    const inputs = inst.inputs.map((id) => known.get(id)!);
    const key = cacheKeyOf(fingerprintRecord(inst.kind, versions.get(inst.kind)!, inst.params, inputs));
    known.set(inst.id, { key, contentHash: createHash('sha256').update(`content of ${key}`).digest('hex') as ContentHash });
    keys[inst.id] = key.slice(0, 16);
  }
  return keys;
}

function plan(name: string, text: string): Plan {
  const result = analyzePipelineText(`${name}.yaml`, text);
  if (!result.ok) throw new Error(`${name}: ${JSON.stringify(result.error.diagnostics)}`);
  return result.value;
}

test('quickstart: cache keys of fetch, poison and train are unchanged', () => {
  assert.equal(keysOf(plan('quickstart', QUICKSTART)), {
    data: '2339b3052ef91343',
    'poison[rate=0]': '3ee9c047623d0099',
    'poison[rate=0.1]': 'cf30ebbd9d8fff58',
    'train[rate=0]': '7635ca8a57f908d0',
    'train[rate=0.1]': 'fcc59ced5030fd55',
  });
});

test('paper: cache keys of fetch, poison, train and transfer-retrain are unchanged', () => {
  assert.equal(keysOf(plan('paper', PAPER)), {
    data: 'd0bf3735444d8192',
    poison: 'c4e721c9e456e5fb',
    'train-clean[model=cnn,width=1]': '3070302f0b4810a3',
    'train-clean[model=lenet5,width=1]': 'f3f51b16d700db46',
    'train-clean[model=resnet34,width=0.25]': '492df2b650c7b4cb',
    'train-clean[model=vgg16,width=0.25]': '269bee0f8b4dd986',
    'train-poisoned[model=cnn,width=1]': '913b424a1e6b896f',
    'train-poisoned[model=lenet5,width=1]': 'c3825b7fb596bf30',
    'train-poisoned[model=resnet34,width=0.25]': 'd08611006a4acfe9',
    'train-poisoned[model=vgg16,width=0.25]': '3b27d03145a3ca9e',
    'transfer[model=cnn,width=1]': '3603ce3b3fa8a677',
    'transfer[model=lenet5,width=1]': '1c8c608bb29b878c',
    'transfer[model=resnet34,width=0.25]': 'cd0173a169ed1113',
    'transfer[model=vgg16,width=0.25]': '95d0e127424d8f70',
  });
});

test.run();
