import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AttackMetrics, TrainingHistory } from '../../src/ml/artifacts.js';
import { StageError, type StageInput, type StageResult } from '../../src/common/stage-contract.js';
import plot, { type FigureEntry } from '../../src/stages/plot.js';
import { fakeContext, fakeHistory, fakeInput, fakeMetrics, tempDir, type FakeContext } from '../report/fixtures.js';
import { parseCsv, pngSize, xmlProblem } from '../report/xml.js';

interface Fixture {
  root: string;
  ctx: FakeContext;
  result: StageResult;
  metrics: Map<string, AttackMetrics>;
  histories: Map<string, TrainingHistory>;
  entries: FigureEntry[];
}

const sweep = suite<{ f?: Fixture }>('plot stage: models × poison rates, a search and two trainings');

sweep.before(async (context) => {
  const root = await tempDir('plot');
  const inputs: StageInput[] = [];
  const metrics = new Map<string, AttackMetrics>();
  const histories = new Map<string, TrainingHistory>();
  let seed = 0;
  for (const model of ['lenet5', 'cnn']) {
    for (const rate of [0.01, 0.1]) {
      const m = fakeMetrics(seed++);
      const input = await fakeInput(root, 'evaluate', 'evaluate', { model, rate }, { 'metrics.json': m });
      inputs.push(input);
      metrics.set(input.id, m);
    }
  }
  const searchMetrics = fakeMetrics(seed++, false);
  const search = await fakeInput(root, 'one-pixel-search', 'search', { model: 'lenet5' }, { 'metrics.json': searchMetrics });
  inputs.push(search);
  metrics.set(search.id, searchMetrics);
  for (const [i, model] of ['lenet5', 'cnn'].entries()) {
    const h = fakeHistory(i, 3 + i);
    const input = await fakeInput(root, 'train', 'train', { model, rate: 0.01 }, { 'history.json': h });
    inputs.push(input);
    histories.set(input.id, h);
  }
  inputs.push(await fakeInput(root, 'poison', 'poison', { rate: 0.01 }, {}));
  const ctx = await fakeContext(root, 'plot', inputs);
  const result = await plot.run({ scale: 1.5 }, ctx);
  const entries = JSON.parse(await readFile(join(ctx.outDir, 'figures.json'), 'utf8')) as FigureEntry[];
  context.f = { root, ctx, result, metrics, histories, entries };
});

sweep.after(async (context) => {
  if (context.f) await rm(context.f.root, { recursive: true, force: true });
});

const fixture = (context: { f?: Fixture }): Fixture => {
  if (!context.f) throw new Error('fixture not built');
  return context.f;
};

sweep('draws every figure kind (class pairs as one small-multiples figure) and reports the count', (context) => {
  const f = fixture(context);
  const names = f.entries.map((e) => e.name);
  assert.equal(names, [
    'success-rate', 'confidence', 'clean-accuracy', 'search', 'target-class-histogram', 'class-pairs', 'rate-sweep', 'training-curves',
  ]);
  assert.equal(f.result.metrics?.figures, f.entries.length);
  assert.ok(f.ctx.logged.some((l) => l.includes('poison[rate=0.01]')), 'the poison input is reported as ignored');
  const perFigure = f.ctx.progressSeen.filter((p) => p.message?.startsWith('figure '));
  assert.is(perFigure.length, f.entries.length);
});

sweep('writes SVG and PNG for every figure; SVGs are well-formed, PNGs match the SVG size × scale', async (context) => {
  const f = fixture(context);
  const files = await readdir(join(f.ctx.outDir, 'figures'));
  for (const entry of f.entries) {
    assert.is(entry.svg, `figures/${entry.name}.svg`);
    assert.is(entry.png, `figures/${entry.name}.png`);
    assert.ok(files.includes(`${entry.name}.svg`) && files.includes(`${entry.name}.png`), entry.name);
    const svg = await readFile(join(f.ctx.outDir, entry.svg as string), 'utf8');
    assert.is(xmlProblem(svg), undefined, `${entry.name}.svg is well-formed`);
    const size = /<svg[^>]* width="(\d+(?:\.\d+)?)" height="(\d+(?:\.\d+)?)"/.exec(svg);
    assert.ok(size, `${entry.name}.svg has a width and height`);
    const png = pngSize(await readFile(join(f.ctx.outDir, entry.png as string)));
    assert.type(png, 'object', `${entry.name}.png: ${String(png)}`);
    if (typeof png === 'string' || !size) return;
    assert.ok(Math.abs(png.width - Number(size[1]) * 1.5) <= 1, `${entry.name}.png width ${png.width} vs svg ${size[1]}`);
    assert.ok(Math.abs(png.height - Number(size[2]) * 1.5) <= 1, `${entry.name}.png height ${png.height} vs svg ${size[2]}`);
    assert.ok(png.width >= 300 && png.height >= 200, `${entry.name}.png is a plausible figure size`);
  }
});

sweep('groups bars by model, labels conditions by the other varying values and titles the axes', async (context) => {
  const f = fixture(context);
  const svg = async (name: string) => readFile(join(f.ctx.outDir, 'figures', `${name}.svg`), 'utf8');
  const success = await svg('success-rate');
  for (const label of ['lenet5', 'cnn', 'rate=0.01', 'rate=0.1']) {
    assert.match(success, new RegExp(`>${label.replace('.', '\\.')}</(text|tspan)>`), `success-rate shows ${label}`);
  }
  for (const text of ['Success rate', 'Model', 'Targeted success', 'Non-targeted success']) assert.ok(success.includes(text), text);
  assert.not.ok(success.includes('search'), 'the search has its own figure');
  const clean = await svg('clean-accuracy');
  assert.not.ok(clean.includes('Instance: search'), 'a search has no clean accuracy and is left out');
  const search = await svg('search');
  assert.ok(search.includes('Targeted search') && search.includes('Instance: search[model=lenet5]'));
  const histogram = await svg('target-class-histogram');
  assert.ok(histogram.includes('Target classes reached per image') && histogram.includes('Share of attacked images'));
  const curves = await svg('training-curves');
  for (const text of ['Epoch', 'Loss', 'Accuracy', '>lenet5<', '>cnn<', 'validation']) assert.ok(curves.includes(text), text);
  const rateSweep = await svg('rate-sweep');
  for (const text of ['Poison rate', 'Clean accuracy', 'Targeted success', '>lenet5<', '>cnn<']) assert.ok(rateSweep.includes(text), text);
  const pairs = await svg('class-pairs');
  for (const text of ['Class pairs of successful attacks', 'Target class', 'Original class', '>airplane<', '>truck<', 'Instance: evaluate[model=cnn,rate=0.1]']) assert.ok(pairs.includes(text), text);
});

sweep('summary.csv has one row per plotted input whose values equal the inputs', async (context) => {
  const f = fixture(context);
  const rows = parseCsv(await readFile(join(f.ctx.outDir, 'summary.csv'), 'utf8'));
  const header = rows[0] as string[];
  const column = (row: string[], name: string) => row[header.indexOf(name)] as string;
  assert.is(rows.length - 1, f.metrics.size + f.histories.size);
  for (const row of rows.slice(1)) {
    const id = column(row, 'instance');
    const m = f.metrics.get(id);
    const h = f.histories.get(id);
    assert.ok(m ?? h, `unexpected row ${id}`);
    if (m) {
      assert.is(Number(column(row, 'targeted_success_rate')), m.targetedSuccessRate);
      assert.is(Number(column(row, 'non_targeted_success_rate')), m.nonTargetedSuccessRate);
      assert.is(Number(column(row, 'targeted_confidence')), m.targetedConfidence);
      assert.is(Number(column(row, 'non_targeted_confidence')), m.nonTargetedConfidence);
      assert.is(Number(column(row, 'attempted_images')), m.attemptedImages);
      assert.is(column(row, 'clean_accuracy'), m.cleanAccuracy === undefined ? '' : String(m.cleanAccuracy));
    }
    if (h) {
      const last = h.epochs[h.epochs.length - 1];
      assert.is(Number(column(row, 'epochs')), h.epochs.length);
      assert.is(Number(column(row, 'final_val_accuracy')), last?.valAccuracy);
      assert.is(Number(column(row, 'train_seconds')), h.epochs.reduce((s, e) => s + (e.seconds ?? 0), 0));
      assert.is(column(row, 'targeted_success_rate'), '');
    }
    assert.is(column(row, 'model'), id.includes('lenet5') ? 'lenet5' : 'cnn');
  }
});

sweep('report.html embeds every figure, the metric tables, and no external URL', async (context) => {
  const f = fixture(context);
  const html = await readFile(join(f.ctx.outDir, 'report.html'), 'utf8');
  assert.is(html.match(/<svg[\s>]/g)?.length, f.entries.length);
  for (const entry of f.entries) assert.ok(html.includes(`<figure id="fig-${entry.name}">`), entry.name);
  const urls = [...html.matchAll(/https?:[^"'\s)]*/g)].map((m) => m[0]);
  assert.equal([...new Set(urls)].sort(), ['http://www.w3.org/1999/xlink', 'http://www.w3.org/2000/svg']);
  assert.not.ok(/<script|<link|src=/.test(html), 'no scripts or external resources');
  const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
  assert.is(new Set(ids).size, ids.length, 'element ids are unique across the inlined SVGs');
  for (const [id, m] of f.metrics) {
    assert.ok(html.includes(`<td>${id}</td>`), id);
    assert.ok(html.includes(`${(m.targetedSuccessRate * 100).toFixed(2)} %`), `${id} targeted success`);
  }
  assert.ok(html.includes('Training summary') && html.includes('<td>train[model=cnn,rate=0.01]</td>'));
});

sweep.run();

const other = suite('plot stage: other inputs and errors');

async function runPlot(inputs: (root: string) => Promise<StageInput[]>, params: Parameters<typeof plot.run>[0] = {}) {
  const root = await tempDir('plot');
  try {
    const ctx = await fakeContext(root, 'plot', await inputs(root));
    const result = await plot.run(params, ctx).then((r) => ({ ok: true as const, r }), (e: unknown) => ({ ok: false as const, e }));
    const files = result.ok ? (await readdir(join(ctx.outDir, 'figures'))).sort() : [];
    const entries = result.ok ? JSON.parse(await readFile(join(ctx.outDir, 'figures.json'), 'utf8')) as FigureEntry[] : [];
    const svgs = new Map<string, string>();
    for (const entry of entries) if (entry.svg) svgs.set(entry.name, await readFile(join(ctx.outDir, entry.svg), 'utf8'));
    return { result, files, entries, svgs };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

other('no sweep figure when no numeric key varies; svg-only writes no PNG', async () => {
  const { result, files, entries } = await runPlot(async (root) => [
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'lenet5', rate: 0.05 }, { 'metrics.json': fakeMetrics(0) }),
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'vgg16', rate: 0.05 }, { 'metrics.json': fakeMetrics(1) }),
  ], { formats: ['svg'] });
  assert.ok(result.ok);
  assert.equal(entries.map((e) => e.name), ['success-rate', 'confidence', 'clean-accuracy', 'target-class-histogram', 'class-pairs']);
  assert.not.ok(files.some((f) => f.endsWith('.png')), 'no PNG when formats is [svg]');
  assert.ok(entries.every((e) => e.png === undefined && e.svg !== undefined));
});

other('an instance without matrix is labelled by its stage id', async () => {
  const { result, entries, svgs } = await runPlot(async (root) => [
    await fakeInput(root, 'evaluate', 'evaluate-baseline', {}, { 'metrics.json': fakeMetrics(2) }),
  ], { formats: ['svg'] });
  assert.ok(result.ok);
  assert.ok(entries.some((e) => e.name === 'class-pairs'));
  assert.ok(svgs.get('success-rate')?.includes('>evaluate-baseline</text>'), 'the legend names the stage');
});

async function stageError(result: { ok: true } | { ok: false; e: unknown }): Promise<string> {
  if (result.ok) throw new Error('expected the stage to fail');
  assert.instance(result.e, StageError);
  return (result.e as StageError).message;
}

other('a missing metrics.json is a StageError naming the input and the file', async () => {
  const { result } = await runPlot(async (root) => [
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'lenet5' }, { 'metrics.json': fakeMetrics(0) }),
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'cnn' }, {}),
  ]);
  const message = await stageError(result);
  assert.match(message, 'evaluate[model=cnn]');
  assert.match(message, /metrics\.json does not exist/);
  assert.not.match(message, /\n\s+at /);
});

other('malformed metrics and histories are StageErrors naming the field', async () => {
  const badRate = await runPlot(async (root) => [
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'lenet5' }, { 'metrics.json': { ...fakeMetrics(0), targetedSuccessRate: 'high' } }),
  ]);
  assert.match(await stageError(badRate.result), /evaluate\[model=lenet5\].*targetedSuccessRate = "high".*between 0 and 1/);
  const badJson = await runPlot(async (root) => [await fakeInput(root, 'train', 'train', {}, { 'history.json': '{"epochs": [' })]);
  assert.match(await stageError(badJson.result), /Input train: .*history\.json is not valid JSON/);
  const badEpoch = await runPlot(async (root) => [
    await fakeInput(root, 'train', 'train', {}, { 'history.json': { model: 'x', epochs: [{ epoch: 1, loss: 'nan', accuracy: 0.1 }] } }),
  ]);
  assert.match(await stageError(badEpoch.result), /epochs\[0\]/);
});

other('x_key must be a numeric matrix key; no plottable inputs is an error', async () => {
  const unknownKey = await runPlot(async (root) => [
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'lenet5', rate: 0.1 }, { 'metrics.json': fakeMetrics(0) }),
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'lenet5', rate: 0.2 }, { 'metrics.json': fakeMetrics(1) }),
  ], { x_key: 'epochs' });
  assert.match(await stageError(unknownKey.result), /x_key "epochs" .*valid keys here are: model, rate/);
  const textKey = await runPlot(async (root) => [
    await fakeInput(root, 'evaluate', 'evaluate', { model: 'lenet5' }, { 'metrics.json': fakeMetrics(0) }),
  ], { x_key: 'model' });
  assert.match(await stageError(textKey.result), /x_key "model" must name a numeric matrix key/);
  const nothing = await runPlot(async (root) => [await fakeInput(root, 'poison', 'poison', {}, {})]);
  assert.match(await stageError(nothing.result), /only inputs of kind poison.*fan_in: true/);
});

other.run();
