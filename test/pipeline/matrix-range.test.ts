import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { matrixValueSize } from '../../src/pipeline/expand.js';
import { brief, workspace, yaml } from './fixtures.js';

const ws = workspace();
test.after(() => ws.cleanup());

async function problems(text: string): Promise<string[]> {
  return (await ws.failure(text)).diagnostics.map(brief);
}

const GRID = yaml(
  'name: grid',
  'stages:',
  '  data: { kind: load }',
  '  poison:',
  '    kind: fit',
  '    needs: [data]',
  '    matrix:',
  '      row: { range: [0, 31, 4] }',
  '      col: [{ range: [0, 8, 4] }, 31]',
  '    params: { epochs: 1, layers: ["${{ matrix.row }}", "${{ matrix.col }}"] }',
);

test('a grid of generated rows x a list mixing a generator and a value expands to exactly these instances', async () => {
  const plan = await ws.plan(GRID);
  const poison = plan.instances.filter((instance) => instance.stage === 'poison');
  const rows = [0, 4, 8, 12, 16, 20, 24, 28];
  const cols = [0, 4, 8, 31];
  assert.equal(poison.map((instance) => instance.id), rows.flatMap((row) => cols.map((col) => `poison[row=${row},col=${col}]`)));
  assert.equal(poison.map((instance) => instance.params['layers']), rows.flatMap((row) => cols.map((col) => [row, col])));
  // Generated values are numbers, as if written by hand: the same ids and params as a literal list.
  const literal = await ws.plan(GRID.replace('{ range: [0, 31, 4] }', '[0, 4, 8, 12, 16, 20, 24, 28]').replace('[{ range: [0, 8, 4] }, 31]', '[0, 4, 8, 31]'));
  assert.equal(literal.instances.map((instance) => [instance.id, instance.params]), plan.instances.map((instance) => [instance.id, instance.params]));
});

test('ranges: default step 1, stop included when hit, counting down, decimal steps without float noise', async () => {
  const values = async (entry: string): Promise<unknown[]> => {
    const plan = await ws.plan(yaml('name: r', 'stages:', '  s:', '    kind: load', `    matrix: { v: ${entry} }`));
    return plan.instances.map((instance) => instance.matrix['v']);
  };
  assert.equal(await values('{ range: [1, 4] }'), [1, 2, 3, 4]);
  assert.equal(await values('{ range: [0, 10, 5] }'), [0, 5, 10]);
  assert.equal(await values('{ range: [31, 0, -10] }'), [31, 21, 11, 1]);
  assert.equal(await values('{ range: [0, 0.3, 0.1] }'), [0, 0.1, 0.2, 0.3]);
  assert.equal(await values('{ range: [7, 7] }'), [7]);
});

test('the size of a matrix entry is known without expanding it', () => {
  assert.is(matrixValueSize({ range: [0, 31, 4] }), 8);
  assert.is(matrixValueSize([{ range: [0, 8, 4] }, 31, 'x']), 5);
  assert.is(matrixValueSize({ range: [0, 1e9] }), 1e9 + 1);
  assert.is(matrixValueSize([1, 2, 3]), 3);
  assert.is(matrixValueSize({ range: [0, 10, -1] }), 0);
});

test('bad generators are reported at the range, with what would be valid', async () => {
  const found = await problems(yaml(
    'name: bad',
    'stages:',
    '  a:',
    '    kind: load',
    '    matrix:',
    '      zero: { range: [0, 8, 0] }',
    '      backwards: { range: [0, 8, -2] }',
    '      huge: { range: [0, 1000000, 1] }',
    '      short: { range: [3] }',
    '      typo: { rnage: [0, 3] }',
    '      twice: [{ range: [0, 4, 2] }, 4]',
  ));
  assert.equal(found, [
    '6:22 range step must not be 0',
    '7:27 range [0, 8, -2] never reaches 8 from 0; use a positive step (e.g. 2) or swap start and stop',
    '8:22 range [0, 1000000, 1] gives 1000001 values, more than the 100000 one generator may give; use a larger step',
    '9:23 must have at least 2 items',
    '10:13 missing required property "range"',
    '10:15 unknown property "rnage"; did you mean "range"?',
    '11:37 matrix key "twice" lists 4 twice; each value may appear once',
  ]);
});

test('a param error from a generated value points at its generator as the origin', async () => {
  const failure = await ws.failure(yaml(
    'name: origin',
    'stages:',
    '  a:',
    '    kind: fit',
    '    matrix: { rate: { range: [0.5, 1.5, 0.5] } }',
    '    params: { epochs: 1, rate: "${{ matrix.rate }}" }',
  ));
  assert.equal(failure.diagnostics.map(brief), ['6:32 must be number >= 0 and <= 1 (got 1.5) in a[rate=1.5]']);
  const related = failure.diagnostics[0]!.related ?? [];
  assert.equal(related.map((r) => `${r.location?.start.line}:${r.location?.start.col} ${r.message}`), ['5:30 matrix.rate = 1.5 comes from here']);
});

test.run();
