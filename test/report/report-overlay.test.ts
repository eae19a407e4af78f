import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempWorkspace } from '../executor/helpers.js';
import { experimentOfRun } from '../../src/report/run-experiment.js';
import { overlayFigures } from '../../src/report/compare-report.js';
import { overlayRuns, RUN_KEY } from '../../src/report/run-overlay.js';
import { readRun } from '../../src/executor/run-history.js';
import type { Experiment } from '../../src/report/experiment.js';
import { fakeHistory, fakeMetrics } from './fixtures.js';
import { sweepRun, writeRun } from './run-fixture.js';

const RUNS = ['20261128T100000Z-sweep-aaaa1111', '20261128T110000Z-sweep-bbbb2222', '20261129T090000Z-sweep-cccc3333'];
const SERIES = ['sweep 11-28 10:00:00', 'sweep 11-28 11:00:00', 'sweep 11-29 09:00:00'];
const RESULT = { clean: 0.6, targeted: 0.9, nonTargeted: 0.95, confidence: 0.9 };

/** Three runs of one sweep, each with evaluate outputs (full attack metrics) and training histories. */
async function workspace() {
  const ws = await tempWorkspace('bdlab-report-');
  for (const [n, id] of RUNS.entries()) {
    await writeRun(ws.dir, sweepRun(id, 4 + n, { '0': RESULT, '0.1': RESULT }, {
      outputs: (_rate, seed) => ({ 'metrics.json': fakeMetrics(seed + n) }),
      history: (rate) => fakeHistory(n + (rate > 0 ? 1 : 0), 3),
    }));
  }
  return ws;
}

/** Texts of the <text> elements of the SVG inside `<figure id="fig-NAME">` of a report page. */
function figureTexts(html: string, name: string): string[] {
  const start = html.indexOf(`<figure id="fig-${name}">`);
  assert.ok(start >= 0, `figure ${name} in the page`);
  const figure = html.slice(start, html.indexOf('</figure>', start));
  return [...figure.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

test('overlay data: every run is a series in the runs figure, the sweep and the training curves', async () => {
  const ws = await workspace();
  try {
    const experiments: Experiment[] = [];
    for (const id of RUNS) experiments.push((await experimentOfRun(await readRun(join(ws.dir, 'runs'), id), ws.dir)) as Experiment);
    const data = await overlayRuns(experiments);
    assert.ok(data.ok, data.ok ? '' : data.error);
    if (!data.ok) return;
    assert.equal(data.value.runs, SERIES);
    assert.is(data.value.evaluated.length, 6);
    assert.is(data.value.trained.length, 6);
    assert.equal([...new Set(data.value.evaluated.map((i) => i.matrix[RUN_KEY]))], SERIES);
    const figures = new Map(overlayFigures(data.value).map((f) => [f.name, f]));
    const valuesOf = (name: string): Record<string, unknown>[] => ((figures.get(name)?.spec as { data: { values: Record<string, unknown>[] } }).data.values);
    assert.equal([...new Set(valuesOf('runs-compared').map((v) => v['run']))], SERIES);
    // The same evaluation of each run, side by side: run 3's targeted success at rate 0.1 is its own.
    const third = valuesOf('runs-compared').find((v) => v['run'] === SERIES[2] && v['instance'] === 'rate=0.1' && v['measure'] === 'Targeted success');
    assert.is(third?.['value'], fakeMetrics(1 + 2).targetedSuccessRate);
    const sweepSeries = new Set(valuesOf('rate-sweep').map((v) => v['series']));
    assert.equal([...sweepSeries], SERIES, 'the sweep has one line per run');
    const curveSeries = new Set(valuesOf('training-curves').map((v) => String(v['id']).split(' · ')[0]));
    assert.equal([...curveSeries], SERIES);
  } finally {
    await ws.cleanup();
  }
});

test('bdlab report: one page with the runs, the compare table and each run in the figures', async () => {
  const ws = await workspace();
  try {
    const r = await runCli(['report', RUNS[0]!, RUNS[1]!, 'cccc3333', '-o', 'out/compare.html'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, `wrote out/compare.html (3 runs: ${SERIES.join(', ')}; 6 evaluated and 6 trained instances)`);
    const html = await readFile(join(ws.dir, 'out', 'compare.html'), 'utf8');
    assert.equal(await readdir(join(ws.dir, 'out')), ['compare.html'], 'no temp file left');
    for (const id of RUNS) assert.ok(html.includes(`<td>${id}</td>`), `run ${id} in the tables`);
    for (const series of SERIES) {
      assert.ok(figureTexts(html, 'runs-compared').includes(series), `${series} in the runs figure's legend`);
      assert.ok(figureTexts(html, 'rate-sweep').includes(series), `${series} in the sweep's legend`);
    }
    assert.match(html, '<caption>Params that differ between the rows, and metrics (as bdlab compare prints them)</caption>');
    assert.match(html, '<th>train.epochs</th>');
    assert.not.ok(/<script|<link|src=/.test(html), 'self-contained');

    const missing = await runCli(['report', 'latest'], ws.dir);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, '-o FILE.html is required');
  } finally {
    await ws.cleanup();
  }
});

test.run();
