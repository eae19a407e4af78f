import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalJson, formatInstanceId, sanitizeInstanceId } from '../../src/pipeline/index.js';
import type { InstanceId, StageId } from '../../src/pipeline/index.js';
import { workspace, yaml } from './fixtures.js';

const ws = workspace();
test.after(() => ws.cleanup());

const ORIGINAL = yaml(
  'name: stable',
  'defaults:',
  '  fit: { epochs: 4, optimizer: { name: adam, lr: 0.001 } }',
  'stages:',
  '  data: { kind: load, params: { source: tiny } }',
  '  train:',
  '    kind: fit',
  '    needs: [data]',
  '    matrix: { model: [cnn, vgg16], rate: [0.5] }',
  '    params: { model: "${{ matrix.model }}", rate: "${{ matrix.rate }}" }',
);

// Same pipeline: comments, block style instead of flow style, keys reordered, other quoting.
const REFORMATTED = yaml(
  '# A comment at the top',
  'name: "stable"   # trailing comment',
  '',
  'stages:',
  '  data:',
  '    params:',
  '      source: tiny',
  '    kind: load',
  '  train:',
  '    params:',
  "      rate: '${{ matrix.rate }}'",
  '      model: ${{ matrix.model }}',
  '    matrix:',
  '      model:',
  '        - cnn',
  '        - vgg16',
  '      rate: [0.5]',
  '    needs:',
  '      - data',
  '    kind: fit',
  'defaults:',
  '  fit:',
  '    optimizer: { lr: 0.001, name: adam }',
  '    epochs: 4',
);

test('a comment-only or reformatting edit gives an identical plan and identical canonical params', async () => {
  const first = await ws.plan(ORIGINAL);
  const second = await ws.plan(REFORMATTED);
  assert.equal(second, first);
  assert.equal(
    second.instances.map((instance) => canonicalJson(instance.params)),
    first.instances.map((instance) => canonicalJson(instance.params)),
  );
  assert.is(canonicalJson(first.instances[1]!.params), '{"batch_size":32,"epochs":4,"model":"cnn","optimizer":{"lr":0.001,"name":"adam"},"rate":0.5}');
});

test('a real edit changes the plan', async () => {
  const first = await ws.plan(ORIGINAL);
  const edited = await ws.plan(ORIGINAL.replace('lr: 0.001', 'lr: 0.002'));
  assert.is.not(canonicalJson(edited.instances[1]!.params), canonicalJson(first.instances[1]!.params));
});

test('canonicalJson sorts keys at every depth and keeps arrays in order', () => {
  const a = canonicalJson({ b: 1, a: { d: [3, 1, { z: null, y: true }], c: 'x' } });
  const b = canonicalJson({ a: { c: 'x', d: [3, 1, { y: true, z: null }] }, b: 1 });
  assert.is(a, '{"a":{"c":"x","d":[3,1,{"y":true,"z":null}]},"b":1}');
  assert.is(b, a);
  assert.is(canonicalJson([{ b: 2, a: 1 }, 'é"\n']), '[{"a":1,"b":2},"é\\"\\n"]');
  assert.is(canonicalJson(-0), '0');
  assert.is(canonicalJson(1e-7), '1e-7');
  assert.throws(() => canonicalJson(Number.NaN), /not representable/);
});

test('instance ids quote strings that would read as another type', () => {
  const stage = 'train' as StageId;
  assert.is(formatInstanceId(stage, {}), 'train');
  assert.is(formatInstanceId(stage, { model: 'cnn', rate: 0.1 }), 'train[model=cnn,rate=0.1]');
  assert.is(formatInstanceId(stage, { rate: '0.1' }), 'train[rate="0.1"]');
  assert.is(formatInstanceId(stage, { on: 'true', off: false }), 'train[on="true",off=false]');
});

test('sanitizeInstanceId is readable, portable and collision-free', () => {
  const id = (text: string): InstanceId => text as InstanceId;
  assert.is(sanitizeInstanceId(id('data')), 'data');
  assert.is(sanitizeInstanceId(id('train[model=lenet5,rate=0.1]')), 'train@model=lenet5,rate=0.1');
  assert.is(sanitizeInstanceId(id('train[name="a/b c"]')), 'train@name=%22a%2Fb%20c%22');
  const names = [
    'train[rate=0.1]', 'train[rate="0.1"]', 'train[m=ResNet]', 'train[m=resnet]', 'train[m="a@b"]', 'train[m="a%40b"]',
    'train[m="a,b=c"]', 'train[m=a,b=c]', 'con', 'train[m="' + 'x'.repeat(300) + '"]', 'train[m="' + 'x'.repeat(299) + 'y"]',
  ].map((text) => sanitizeInstanceId(id(text)));
  // Unique even on case-insensitive file systems.
  assert.is(new Set(names.map((name) => name.toLowerCase())).size, names.length);
  for (const name of names) {
    assert.ok(/^[A-Za-z0-9._=,+@%~-]+$/.test(name), name);
    assert.ok(name.length <= 140, name);
  }
  assert.match(names[2]!, /^train@m=ResNet~[0-9a-f]{10}$/);
  assert.is(sanitizeInstanceId(id('train[m=ResNet]')), names[2]);
});

test.run();
