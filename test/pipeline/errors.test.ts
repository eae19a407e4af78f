import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { brief, workspace, yaml } from './fixtures.js';

const ws = workspace();
test.after(() => ws.cleanup());

async function problems(text: string): Promise<string[]> {
  return (await ws.failure(text)).diagnostics.map(brief);
}

test('YAML syntax error is reported at its position and stops analysis', async () => {
  const found = await problems(yaml(
    'name: broken',
    'stages:',
    '  data: { kind: load, params: { source: tiny }',
    '  fit: { kind: fit }',
  ));
  assert.ok(found.length >= 1);
  assert.match(found[0]!, /^4:\d+ YAML syntax: /);
});

test('unknown top-level key and missing name are both reported', async () => {
  const found = await problems(yaml(
    'stages:',
    '  data: { kind: load }',
    'stagse: {}',
  ));
  assert.equal(found, [
    '1:1 missing required property "name"',
    '3:1 unknown property "stagse"; did you mean "stages"?',
  ]);
});

test('stage without kind', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  data:',
    '    params: { source: tiny }',
  ));
  assert.equal(found, ['4:5 missing required property "kind"']);
});

test('wrong param type names the expectation and the value', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train:',
    '    kind: fit',
    '    params:',
    '      epochs: ten',
  ));
  assert.equal(found, ['6:15 must be integer >= 1 (got "ten")']);
  const failure = await ws.failure(yaml('name: p', 'stages:', '  train: { kind: fit, params: { epochs: ten } }'));
  assert.is(failure.diagnostics[0]!.path, 'stages.train.params.epochs');
});

test('unknown kind suggests the closest and lists the valid ones', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train: { kind: fitt, params: { epochs: 1 } }',
  ));
  assert.equal(found, ['3:18 unknown stage kind "fitt"; did you mean "fit"? Valid kinds are "chart", "fit" and "load"']);
});

test('unknown need suggests the closest stage id', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  dataset: { kind: load }',
    '  train:',
    '    kind: fit',
    '    needs: [datset]',
    '    params: { epochs: 1 }',
  ));
  assert.equal(found, ['6:13 stage "train" needs "datset", which is not defined in stages; did you mean "dataset"?']);
});

test('self-need', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  loop: { kind: load, needs: [loop] }',
  ));
  assert.equal(found, ['3:31 stage "loop" needs itself; a stage can only need other stages']);
});

test('cycle is named, with a related location for every edge', async () => {
  const failure = await ws.failure(yaml(
    'name: p',
    'stages:',
    '  a: { kind: load, needs: [c] }',
    '  b: { kind: load, needs: [a] }',
    '  c:',
    '    kind: load',
    '    needs:',
    '      - b',
  ));
  assert.equal(failure.diagnostics.map(brief), ['3:28 needs form a cycle: a -> c -> b -> a (each stage needs the next), so no stage of it can ever start']);
  const related = failure.diagnostics[0]!.related!.map((item) => `${item.location!.start.line}:${item.location!.start.col} ${item.message}`);
  assert.equal(related, ['3:28 "a" needs "c" here', '8:9 "c" needs "b" here', '4:28 "b" needs "a" here']);
});

test('duplicate stage id points at both definitions', async () => {
  const failure = await ws.failure(yaml(
    'name: p',
    'stages:',
    '  data: { kind: load }',
    '  other: { kind: load }',
    '  data: { kind: load, params: { source: full } }',
  ));
  assert.equal(failure.diagnostics.map(brief), ['5:3 duplicate key "data": each key may appear only once in a mapping']);
  assert.is(failure.diagnostics[0]!.related![0]!.location!.start.line, 3);
  assert.is(failure.diagnostics[0]!.path, 'stages.data');
});

test('matrix with an empty list', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train:',
    '    kind: fit',
    '    matrix: { model: [], rate: [0.1] }',
    '    params: { epochs: 1 }',
  ));
  assert.equal(found, ['5:22 must have at least 1 item']);
});

test('reference to a matrix key the stage does not have', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train:',
    '    kind: fit',
    '    matrix: { model: [cnn] }',
    '    params: { epochs: 1, model: "${{ matrix.modle }}" }',
  ));
  assert.equal(found, ['6:33 ${{ matrix.modle }} refers to a matrix key that stage "train" does not have; its keys are model; did you mean "model"?']);
});

test('enum violation from a matrix value points at the ${{ }} string and at the value', async () => {
  const failure = await ws.failure(yaml(
    'name: p',
    'stages:',
    '  train:',
    '    kind: fit',
    '    matrix:',
    '      model: [cnn, lenet6, vgg16]',
    '    params:',
    '      epochs: 1',
    '      model: ${{ matrix.model }}',
  ));
  assert.equal(failure.diagnostics.map(brief), [
    '9:14 must be one of "cnn", "lenet5", "resnet34" or "vgg16" (got "lenet6") in train[model=lenet6]',
  ]);
  const related = failure.diagnostics[0]!.related!;
  assert.is(related[0]!.message, 'matrix.model = lenet6 comes from here');
  assert.equal(related[0]!.location!.start, { line: 6, col: 20 });
});

test('misspelled param gets a suggestion, pointing at the key', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train: { kind: fit, params: { epochs: 2, bacth_size: 8 } }',
  ));
  assert.equal(found, ['3:44 unknown property "bacth_size"; did you mean "batch_size"?']);
});

test('a bad value from defaults is reported where defaults wrote it', async () => {
  const found = await problems(yaml(
    'name: p',
    'defaults:',
    '  fit: { epochs: 0 }',
    'stages:',
    '  train: { kind: fit }',
  ));
  assert.equal(found, ['3:18 must be integer >= 1 (got 0)']);
});

test('fan_in over a key the upstream does not have', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train: { kind: fit, matrix: { model: [cnn] }, params: { epochs: 1 } }',
    '  chart: { kind: chart, needs: [{ stage: train, fan_in: [rate] }] }',
  ));
  assert.equal(found, ['4:58 fan_in key "rate" is not a matrix key of stage "train"; its keys are model']);
});

test('unsupported expression and nested param errors', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  train:',
    '    kind: fit',
    '    params:',
    '      epochs: 1',
    '      tag: "${{ env.HOME }}"',
    '      optimizer: { name: rmsprop, lr: 0 }',
  ));
  assert.equal(found, [
    '7:12 unsupported expression "${{ env.HOME }}": only ${{ matrix.<key> }} can be used in params',
  ]);
  const nested = await problems(yaml(
    'name: p',
    'stages:',
    '  train:',
    '    kind: fit',
    '    params:',
    '      epochs: 1',
    '      optimizer: { name: rmsprop, lr: 0 }',
  ));
  assert.equal(nested, ['7:26 must be one of "sgd" or "adam" (got "rmsprop")', '7:39 must be number > 0 (got 0)']);
});

test('all problems of a file are listed together, in source order', async () => {
  const found = await problems(yaml(
    'name: Bad Name',
    'defaults:',
    '  fitt: { epochs: 3 }',
    'stages:',
    '  data: { kind: lod }',
    '  a: { kind: fit, needs: [b], params: { epochs: 1 } }',
    '  b: { kind: fit, needs: [a], params: { epochs: 1 } }',
    '  train: { kind: fit, needs: [dta], params: { epochs: -1 } }',
    '  sweep: { kind: fit, matrix: { rate: [0.1, 0.1] }, params: { epochs: 1, rate: "${{ matrix.rate }}" } }',
    '  ok: { kind: fit, params: { epochs: "x" } }',
  ));
  assert.equal(found, [
    '1:7 must be string matching /^[a-z0-9][a-z0-9_-]*$/ (got "Bad Name")',
    '3:3 defaults for unknown stage kind "fitt"; did you mean "fit"? Valid kinds are "chart", "fit" and "load"',
    '5:17 unknown stage kind "lod"; did you mean "load"? Valid kinds are "chart", "fit" and "load"',
    '6:27 needs form a cycle: a -> b -> a (each stage needs the next), so no stage of it can ever start',
    '8:31 stage "train" needs "dta", which is not defined in stages; did you mean "data"?',
    '8:55 must be integer >= 1 (got -1)',
    '9:45 matrix key "rate" lists 0.1 twice; each value may appear once',
    '10:38 must be integer >= 1 (got "x")',
  ]);
});

test('a missing file is one clear diagnostic', async () => {
  const { analyzePipeline } = await import('../../src/pipeline/index.js');
  const result = await analyzePipeline(ws.dir + '/nope.yaml', { schemasDir: ws.schemasDir });
  assert.not.ok(result.ok);
  if (!result.ok) assert.match(result.error.diagnostics[0]!.message, /cannot read the pipeline file: the file does not exist/);
});

test('a need listed twice and exclude with a key outside the own matrix', async () => {
  const found = await problems(yaml(
    'name: p',
    'stages:',
    '  a: { kind: load, matrix: { seed: [1, 2] } }',
    '  b: { kind: load, needs: [a, a] }',
    '  c: { kind: load, matrix: { size: [1] }, exclude: [{ sise: 1 }] }',
  ));
  assert.equal(found, [
    '4:31 stage "b" lists "a" in needs more than once',
    '5:55 exclude refers to matrix key "sise", which is not in the stage\'s own matrix; did you mean "size"?',
  ]);
});

test.run();
