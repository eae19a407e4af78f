import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, tempWorkspace } from '../executor/helpers.js';
import { sweepRun, writeRun } from './run-fixture.js';

const RUN_A = '20261128T100000Z-sweep-aaaa1111';
const RUN_B = '20261128T110000Z-sweep-bbbb2222';
const OTHER = '20261128T120000Z-other-cccc3333';

/** Two runs of one sweep: B trained 8 epochs instead of 4; metrics chosen so every cell is known. */
async function workspaceWithRuns() {
  const ws = await tempWorkspace('bdlab-compare-');
  await writeRun(ws.dir, sweepRun(RUN_A, 4, { '0': { clean: 0.6109, targeted: 0.0492, nonTargeted: 0.4011, confidence: 0.5 }, '0.1': { clean: 0.6091, targeted: 0.99, nonTargeted: 0.9916, confidence: 0.996 } }));
  await writeRun(ws.dir, sweepRun(RUN_B, 8, { '0': { clean: 0.6512, targeted: 0.05, nonTargeted: 0.38, confidence: 0.5 }, '0.1': { clean: 0.6433, targeted: 0.9975, nonTargeted: 0.998, confidence: 0.998 } }));
  await writeRun(ws.dir, { id: OTHER, pipeline: 'other', instances: [{ id: 'data', stage: 'data', kind: 'fetch', metrics: { train: 10 } }] });
  return ws;
}

/** Cells of a text table: columns are separated by at least two spaces and no cell holds two. */
function parseText(text: string): string[][] {
  return text.split('\n').map((line) => line.trim().split(/ {2,}/));
}

/** The table part of `compare --format table` output (after the run legend and a blank line). */
function tablePart(stdout: string): string {
  return stdout.split('\n\n')[1]!.trimEnd();
}

test('compare: one row per (run, instance), only the params that differ, metrics as percentages', async () => {
  const ws = await workspaceWithRuns();
  try {
    const r = await runCli(['compare', RUN_A, 'bbbb2222'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `run ${RUN_A}: sweep (sweep.yaml)`);
    const rows = parseText(tablePart(r.stdout));
    assert.equal(rows[0], ['run', 'instance', 'poison.rate', 'train.epochs', 'clean accuracy', 'targeted success', 'non-targeted success', 'targeted confidence', 'non-targeted confidence', 'images']);
    assert.equal(rows.slice(1), [
      [RUN_A, 'evaluate[rate=0]', '0', '4', '61.09 %', '4.92 %', '40.11 %', '0.500', '0.500', '200'],
      [RUN_A, 'evaluate[rate=0.1]', '0.1', '4', '60.91 %', '99.00 %', '99.16 %', '0.996', '0.996', '200'],
      [RUN_B, 'evaluate[rate=0]', '0', '8', '65.12 %', '5.00 %', '38.00 %', '0.500', '0.500', '200'],
      [RUN_B, 'evaluate[rate=0.1]', '0.1', '8', '64.33 %', '99.75 %', '99.80 %', '0.998', '0.998', '200'],
    ]);
    // Numbers are right-aligned: the header ends where the cells end.
    const lines = tablePart(r.stdout).split('\n');
    assert.is(lines[0]!.indexOf('clean accuracy') + 'clean accuracy'.length, lines[1]!.indexOf('61.09 %') + '61.09 %'.length);
  } finally {
    await ws.cleanup();
  }
});

test('compare --only-changed drops metric columns equal in every row; --stage picks other rows', async () => {
  const ws = await workspaceWithRuns();
  try {
    const r = await runCli(['compare', '--pipeline', 'sweep', '--only-changed', '--format', 'md'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    const md = r.stdout.trimEnd().split('\n').map((line) => line.split('|').slice(1, -1).map((c) => c.trim()));
    // `images` is 200 in every row, so --only-changed drops it; every other metric differs somewhere.
    assert.equal(md[0], ['run', 'instance', 'poison.rate', 'train.epochs', 'clean accuracy', 'targeted success', 'non-targeted success', 'targeted confidence', 'non-targeted confidence']);
    assert.equal(md[1], ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']);
    assert.equal(md[3], [RUN_A, 'evaluate[rate=0.1]', '0.1', '4', '60.91 %', '99.00 %', '99.16 %', '0.996', '0.996']);
    assert.is(md.length, 6);

    const train = await runCli(['compare', 'latest', RUN_A, '--pipeline', 'sweep', '--stage', 'train', '--format', 'csv'], ws.dir);
    assert.is(train.code, 0, train.stderr);
    // `latest` is the run of pipeline "other": it has no train stage, so it adds no rows; the
    // sweep's runs follow in the order named (A first, then B, which --pipeline adds).
    assert.equal(train.stdout.trimEnd().split('\n'), [
      'run,instance,poison.rate,train.epochs,train accuracy,train loss,epochs',
      `${RUN_A},train[rate=0],0,4,0.5,1.2,4`,
      `${RUN_A},train[rate=0.1],0.1,4,0.6,1.2,4`,
      `${RUN_B},train[rate=0],0,8,0.5,1.2,8`,
      `${RUN_B},train[rate=0.1],0.1,8,0.6,1.2,8`,
    ]);
  } finally {
    await ws.cleanup();
  }
});

test('compare --format json parses back to the raw numbers; bad refs exit 2 with a reason', async () => {
  const ws = await workspaceWithRuns();
  try {
    const r = await runCli(['compare', RUN_A, RUN_B, '--format', 'json'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as { columns: { name: string; role: string; unit?: string }[]; rows: Record<string, unknown>[] };
    assert.equal(parsed.columns.slice(0, 5), [
      { name: 'run', role: 'label' },
      { name: 'instance', role: 'label' },
      { name: 'poison.rate', role: 'param' },
      { name: 'train.epochs', role: 'param' },
      { name: 'clean accuracy', role: 'metric', unit: 'rate' },
    ]);
    assert.is(parsed.rows.length, 4);
    assert.equal(parsed.rows[3], {
      run: RUN_B, instance: 'evaluate[rate=0.1]', 'poison.rate': 0.1, 'train.epochs': 8, 'clean accuracy': 0.6433, 'targeted success': 0.9975,
      'non-targeted success': 0.998, 'targeted confidence': 0.998, 'non-targeted confidence': 0.998, images: 200,
    });

    const ambiguous = await runCli(['compare', '20261128T1'], ws.dir);
    assert.is(ambiguous.code, 2);
    assert.match(ambiguous.stderr, 'run "20261128T1" is ambiguous: it matches 3 runs');
    const missing = await runCli(['compare', '--pipeline', 'nope'], ws.dir);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, '--pipeline nope: no run of a pipeline named "nope"');
    assert.match(missing.stderr, 'pipelines with runs: other, sweep');
    const none = await runCli(['compare'], ws.dir);
    assert.is(none.code, 2);
    assert.match(none.stderr, 'expected at least one RUN');
    const format = await runCli(['compare', 'latest', '--format', 'xml'], ws.dir);
    assert.is(format.code, 2);
    assert.match(format.stderr, '--format xml: expected one of table, md, csv, json');
  } finally {
    await ws.cleanup();
  }
});

test.run();
