import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Plan } from '../../src/pipeline/index.js';
import { brief, workspace, yaml } from './fixtures.js';

const ws = workspace();
test.after(() => ws.cleanup());

const ids = (plan: Plan): string[] => plan.instances.map((instance) => instance.id);
const byId = (plan: Plan, id: string) => {
  const found = plan.instances.find((instance) => instance.id === id);
  if (!found) throw new Error(`no instance ${id} in ${ids(plan).join(' ')}`);
  return found;
};

const SWEEP = yaml(
  'name: sweep',
  'settings: { backend: cpu }',
  'defaults:',
  '  fit: { epochs: 10, batch_size: 64, optimizer: { name: sgd, lr: 0.01 } }',
  'stages:',
  '  report: { kind: chart, needs: [{ stage: train, fan_in: true }] }',
  '  per_rate: { kind: chart, needs: [{ stage: train, fan_in: [model] }], params: { title: "rate ${{ matrix.rate }}" } }',
  '  train:',
  '    kind: fit',
  '    needs: [poison]',
  '    matrix: { model: [cnn, lenet5] }',
  '    params: { model: "${{ matrix.model }}", optimizer: { lr: 0.1 } }',
  '  poison:',
  '    kind: fit',
  '    needs: [data]',
  '    matrix: { rate: [0.01, 0.1] }',
  '    params: { epochs: 1, rate: "${{ matrix.rate }}", tag: "r=${{ matrix.rate }}/${{ matrix.rate }}" }',
  '  data: { kind: load, params: { source: tiny } }',
);

test('stages are ordered upstream first; matrix ids put own keys before inherited ones', async () => {
  const plan = await ws.plan(SWEEP);
  assert.equal(ids(plan), [
    'data',
    'poison[rate=0.01]',
    'poison[rate=0.1]',
    'train[model=cnn,rate=0.01]',
    'train[model=cnn,rate=0.1]',
    'train[model=lenet5,rate=0.01]',
    'train[model=lenet5,rate=0.1]',
    'report',
    'per_rate[rate=0.01]',
    'per_rate[rate=0.1]',
  ]);
  assert.is(plan.name, 'sweep');
  assert.equal(plan.settings, { backend: 'cpu' });
  assert.ok(plan.file.endsWith('pipeline.yaml'));
  assert.equal(byId(plan, 'train[model=lenet5,rate=0.1]').matrix, { model: 'lenet5', rate: 0.1 });
  assert.equal(Object.keys(byId(plan, 'train[model=lenet5,rate=0.1]').matrix), ['model', 'rate']);
});

test('fan-out, fan-in and partial fan-in edges', async () => {
  const plan = await ws.plan(SWEEP);
  assert.equal(byId(plan, 'poison[rate=0.1]').inputs, ['data']);
  assert.equal(byId(plan, 'train[model=cnn,rate=0.1]').inputs, ['poison[rate=0.1]']);
  assert.equal(byId(plan, 'report').inputs, [
    'train[model=cnn,rate=0.01]',
    'train[model=cnn,rate=0.1]',
    'train[model=lenet5,rate=0.01]',
    'train[model=lenet5,rate=0.1]',
  ]);
  assert.equal(byId(plan, 'per_rate[rate=0.1]').inputs, ['train[model=cnn,rate=0.1]', 'train[model=lenet5,rate=0.1]']);
  assert.equal(byId(plan, 'report').matrix, {});
});

test('${{ }} keeps the type of a whole-string reference and interpolates inside text', async () => {
  const plan = await ws.plan(SWEEP);
  const poison = byId(plan, 'poison[rate=0.1]').params;
  assert.is(poison['rate'], 0.1);
  assert.is(typeof poison['rate'], 'number');
  assert.is(poison['tag'], 'r=0.1/0.1');
  assert.is(byId(plan, 'train[model=lenet5,rate=0.01]').params['model'], 'lenet5');
  // Inherited keys can be referenced too.
  assert.is(byId(plan, 'per_rate[rate=0.01]').params['title'], 'rate 0.01');
});

test('defaults merge deeply under stage params; schema defaults are filled in', async () => {
  const plan = await ws.plan(SWEEP);
  assert.equal(byId(plan, 'train[model=cnn,rate=0.01]').params, {
    batch_size: 64,
    epochs: 10,
    model: 'cnn',
    optimizer: { lr: 0.1, name: 'sgd' },
  });
  // poison overrides epochs; batch_size and optimizer come from defaults.
  assert.is(byId(plan, 'poison[rate=0.01]').params['epochs'], 1);
  const bare = await ws.plan(yaml('name: p', 'stages:', '  t: { kind: fit, params: { epochs: 3 } }'));
  assert.equal(bare.instances[0]!.params, { batch_size: 32, epochs: 3 });
});

test('lists in stage params replace lists from defaults', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'defaults: { fit: { epochs: 1, layers: [1, 2, 3] } }',
    'stages:',
    '  t: { kind: fit, params: { layers: [9] } }',
  ));
  assert.equal(plan.instances[0]!.params['layers'], [9]);
});

test('own key that is also inherited joins instead of multiplying', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'stages:',
    '  a: { kind: load, matrix: { seed: [1, 2, 3], size: [s, m] } }',
    '  b: { kind: load, needs: [a], matrix: { seed: [2, 3, 4] } }',
  ));
  assert.equal(ids(plan).filter((id) => id.startsWith('b')), [
    'b[seed=2,size=s]',
    'b[seed=2,size=m]',
    'b[seed=3,size=s]',
    'b[seed=3,size=m]',
  ]);
  assert.equal(byId(plan, 'b[seed=3,size=m]').inputs, ['a[seed=3,size=m]']);
});

test('two upstreams with a shared key are joined on it; a fan-in edge gathers within the shared key', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'stages:',
    '  models: { kind: load, matrix: { model: [cnn, vgg16], seed: [1, 2] } }',
    '  triggers: { kind: load, matrix: { seed: [1, 2], pixel: [0, 31] } }',
    '  eval: { kind: load, needs: [models, { stage: triggers, fan_in: [pixel] }] }',
  ));
  assert.equal(ids(plan).filter((id) => id.startsWith('eval')), [
    'eval[model=cnn,seed=1]',
    'eval[model=cnn,seed=2]',
    'eval[model=vgg16,seed=1]',
    'eval[model=vgg16,seed=2]',
  ]);
  assert.equal(byId(plan, 'eval[model=vgg16,seed=2]').inputs, ['models[model=vgg16,seed=2]', 'triggers[seed=2,pixel=0]', 'triggers[seed=2,pixel=31]']);
});

test('product of own matrix and inherited keys, exclude, and typed value ids', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'stages:',
    '  up: { kind: load, matrix: { flag: [true, false] } }',
    '  down:',
    '    kind: load',
    '    needs: [up]',
    '    matrix: { name: ["0.1", plain, "with space"], n: [1, null] }',
    '    exclude: [{ name: plain, n: null }]',
  ));
  const down = ids(plan).filter((id) => id.startsWith('down'));
  assert.is(down.length, 3 * 2 * 2 - 2);
  assert.ok(down.includes('down[name="0.1",n=1,flag=true]'));
  assert.ok(down.includes('down[name="with space",n=null,flag=false]'));
  assert.not.ok(down.some((id) => id.includes('name=plain,n=null')));
  assert.ok(down.includes('down[name=plain,n=1,flag=false]'));
  assert.is(byId(plan, 'down[name=plain,n=1,flag=false]').matrix['flag'], false);
});

test('a stage whose own values never meet the inherited ones has no instances', async () => {
  const failure = await ws.failure(yaml(
    'name: p',
    'stages:',
    '  a: { kind: load, matrix: { seed: [1] } }',
    '  b: { kind: load, needs: [a], matrix: { seed: [2] } }',
  ));
  assert.equal(failure.diagnostics.map(brief), ['4:3 stage "b" has no instances: its own values of "seed" never agree with the values its needs pass down']);
});

test('params shared by equal instances are validated once and are read-only', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'stages:',
    '  t: { kind: fit, matrix: { seed: [1, 2, 3] }, params: { epochs: 2 } }',
  ));
  assert.is(plan.instances.length, 3);
  assert.ok(plan.instances[0]!.params === plan.instances[2]!.params);
  assert.ok(Object.isFrozen(plan.instances[0]!.params));
});

test('one error per problem, however many instances share it', async () => {
  const failure = await ws.failure(yaml(
    'name: p',
    'stages:',
    '  t: { kind: fit, matrix: { seed: [1, 2, 3], e: [0] }, params: { epochs: "${{ matrix.e }}" } }',
  ));
  assert.equal(failure.diagnostics.map(brief), ['3:74 must be integer >= 1 (got 0) in t[seed=1,e=0] and 2 more instances']);
  assert.equal(failure.diagnostics[0]!.related![0]!.location!.start, { line: 3, col: 50 });
});

test('params shared through a YAML alias by stages of different kinds are filled and frozen separately', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'stages:',
    '  a: { kind: fit, params: &shared { epochs: 2 } }',
    '  b: { kind: chart, params: *shared }',
  ));
  assert.equal(plan.instances.map((instance) => instance.params), [{ epochs: 2, batch_size: 32 }, { epochs: 2 }]);
});

test('YAML merge keys share stage settings', async () => {
  const plan = await ws.plan(yaml(
    'name: p',
    'stages:',
    '  a: &base { kind: fit, params: { epochs: 2 } }',
    '  b: { <<: *base, needs: [a] }',
  ));
  assert.equal(plan.instances.map((instance) => [instance.id, instance.kind, instance.inputs]), [['a', 'fit', []], ['b', 'fit', ['a']]]);
});

test.run();
