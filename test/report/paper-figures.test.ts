import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import plot, { type FigureEntry } from '../../src/stages/plot.js';
import type { StageInput } from '../../src/common/stage-contract.js';
import { fakeContext, fakeInput, fakeMetrics, tempDir } from './fixtures.js';

/** Runs the plot stage on the inputs and returns a reader for its figure files. */
async function plotted(make: (root: string) => Promise<StageInput[]>) {
  const root = await tempDir('paper-figures');
  const ctx = await fakeContext(root, 'plot', await make(root));
  await plot.run({ formats: ['svg'] }, ctx);
  const entries = JSON.parse(await readFile(join(ctx.outDir, 'figures.json'), 'utf8')) as FigureEntry[];
  return {
    names: entries.map((e) => e.name),
    svg: (name: string) => readFile(join(ctx.outDir, 'figures', `${name}.svg`), 'utf8'),
    spec: async (name: string) => JSON.parse(await readFile(join(ctx.outDir, 'figures', `${name}.vl.json`), 'utf8')) as Record<string, unknown> & { data: { values: Record<string, unknown>[] } },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

const MODELS = ['cnn', 'lenet5', 'resnet34', 'vgg16'];
// Long stage names on purpose: their conditions must appear whole, never cut with an ellipsis.
const STAGES = ['evaluate-clean', 'evaluate-backdoored', 'evaluate-after-transfer-retrain-on-clean-data', 'evaluate-backdoored-at-half-the-poisoning-rate', 'evaluate-backdoored-with-augmentation'];
const CONDITIONS = ['clean', 'backdoored', 'after-transfer-retrain-on-clean-data', 'backdoored-at-half-the-poisoning-rate', 'backdoored-with-augmentation'];

test('20 instances across 4 models: bars grouped by model, one colour per condition, every label and id in full', async () => {
  const figures = await plotted(async (root) => {
    const inputs: StageInput[] = [];
    let seed = 0;
    for (const stage of STAGES) {
      for (const model of MODELS) {
        inputs.push(await fakeInput(root, 'evaluate', stage, { model, width: model.startsWith('res') || model.startsWith('vgg') ? 0.25 : 1 }, { 'metrics.json': fakeMetrics(seed++ % 4) }));
      }
    }
    return inputs;
  });
  try {
    const spec = await figures.spec('success-rate');
    const values = spec.data.values;
    assert.is(values.length, 20 * 2, 'targeted and non-targeted value per instance');
    for (const row of values) {
      const [, stage, model] = /^([a-z-]+)\[model=([a-z0-9]+),/.exec(String(row['id']))!;
      const width = model === 'resnet34' || model === 'vgg16' ? '0.25' : '1';
      assert.is(row['group'], `${model} · width=${width}`, `${String(row['id'])} is grouped by its model (the width goes with it)`);
      assert.is(row['condition'], CONDITIONS[STAGES.indexOf(stage!)], `${String(row['id'])} has its stage's condition`);
    }
    const facet = spec as unknown as { spec: { encoding: { x: { field: string; sort: string[] }; xOffset: { field: string } } ; layer: { encoding: { color?: { scale: { domain: string[]; range: string[] } } } }[] } };
    assert.is(facet.spec.encoding.x.field, 'group');
    assert.equal(facet.spec.encoding.x.sort, ['cnn · width=1', 'lenet5 · width=1', 'resnet34 · width=0.25', 'vgg16 · width=0.25']);
    assert.is(facet.spec.encoding.xOffset.field, 'condition');
    const scale = facet.spec.layer[0]!.encoding.color!.scale;
    assert.equal(scale.domain, CONDITIONS);
    assert.is(new Set(scale.range).size, 5, 'five distinct colours');

    const svg = await figures.svg('success-rate');
    assert.not.ok(svg.includes('…'), 'no label is truncated');
    for (const condition of CONDITIONS) assert.ok(svg.includes(`>${condition}</text>`), `legend shows "${condition}" whole`);
    // Group labels are broken into lines at " · ": each line is one tspan.
    for (const model of MODELS) assert.ok(svg.includes(`>${model}</tspan>`), `axis shows ${model}`);
    assert.ok(svg.includes('>width=0.25</tspan>'));
    for (const stage of STAGES) for (const model of MODELS) assert.ok(svg.includes(`Instance: ${stage}[model=${model},`), `${stage} ${model}: full id on its bar`);

    // The same condition keeps its colour in every figure.
    const accuracy = await figures.spec('clean-accuracy') as unknown as { spec: { layer: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[] } };
    assert.equal(accuracy.spec.layer[0]!.encoding.color.scale, scale);
    // Class pairs and histograms are small multiples, one column per model.
    const pairs = await figures.spec('class-pairs') as unknown as { facet: { column: { field: string; sort: string[] }; row: { field: string; sort: string[] } } };
    assert.is(pairs.facet.column.field, 'group');
    assert.is(pairs.facet.column.sort.length, 4);
    assert.equal(pairs.facet.row.sort, CONDITIONS);
    const histogram = await figures.spec('target-class-histogram') as unknown as { facet: { field: string; sort: string[] } };
    assert.is(histogram.facet.field, 'group');
    assert.is(histogram.facet.sort.length, 4);
  } finally {
    await figures.cleanup();
  }
});

test('search figure: clean vs backdoored model per network, a panel per mode; conditions share their colours with evaluate', async () => {
  const figures = await plotted(async (root) => {
    const inputs: StageInput[] = [];
    for (const model of ['lenet5', 'cnn']) {
      inputs.push(await fakeInput(root, 'evaluate', 'evaluate-clean', { model }, { 'metrics.json': fakeMetrics(0) }));
      inputs.push(await fakeInput(root, 'evaluate', 'evaluate-backdoored', { model }, { 'metrics.json': fakeMetrics(1) }));
    }
    for (const model of ['lenet5', 'cnn']) {
      for (const [stage, targeted] of [['search-clean', false], ['search-backdoored', false], ['search-clean-targeted', true], ['search-backdoored-targeted', true]] as const) {
        const m = fakeMetrics(2, false);
        if (!targeted) m.attemptedTargeted = 0;
        inputs.push(await fakeInput(root, 'one-pixel-search', stage, { model }, { 'metrics.json': m }));
      }
    }
    return inputs;
  });
  try {
    const search = await figures.spec('search') as unknown as { data: { values: Record<string, unknown>[] }; facet: { column: { sort: string[] } }; spec: { layer: { encoding: { color?: { scale: { domain: string[]; range: string[] } } } }[] } };
    assert.equal(search.facet.column.sort, ['Non-targeted search', 'Targeted search']);
    assert.equal(search.spec.layer[0]!.encoding.color!.scale.domain, ['clean', 'backdoored']);
    const evaluate = await figures.spec('success-rate') as unknown as typeof search;
    assert.equal(search.spec.layer[0]!.encoding.color!.scale.range, evaluate.spec.layer[0]!.encoding.color!.scale.range);
    const m = fakeMetrics(2, false);
    const row = (id: string, measure: string) => search.data.values.find((v) => v['id'] === id && v['measure'] === measure);
    assert.is(row('search-clean[model=cnn]', 'Success rate')!['value'], m.nonTargetedSuccessRate);
    assert.is(row('search-clean-targeted[model=cnn]', 'Success rate')!['value'], m.targetedSuccessRate);
    assert.is(row('search-backdoored-targeted[model=lenet5]', 'Confidence')!['value'], m.targetedConfidence);
    assert.is(row('search-backdoored-targeted[model=lenet5]', 'Confidence')!['mode'], 'Targeted search');
  } finally {
    await figures.cleanup();
  }
});

test('placement heatmap from hand-made evaluate outputs: every cell at its (row, col) with its value', async () => {
  const rows = [0, 4, 28];
  const cols = [0, 16, 31];
  // A value no two cells share: which panel, row and column it came from can be read back.
  const success = (model: number, colour: number, row: number, col: number): number => (model * 500 + colour * 250 + rows.indexOf(row) * 30 + cols.indexOf(col) * 7 + 11) / 1000;
  const figures = await plotted(async (root) => {
    const inputs: StageInput[] = [];
    for (const [m, stage] of ['evaluate-lenet5', 'evaluate-cnn'].entries()) {
      for (const [c, color] of ['white', 'magenta'].entries()) {
        for (const row of rows) {
          for (const col of cols) {
            const metrics = fakeMetrics(0);
            metrics.targetedSuccessRate = success(m, c, row, col);
            metrics.cleanAccuracy = 0.5 + success(m, c, row, col) / 10;
            inputs.push(await fakeInput(root, 'evaluate', stage, { color, row, col }, { 'metrics.json': metrics }));
          }
        }
      }
    }
    return inputs;
  });
  try {
    assert.ok(figures.names.includes('placement-targeted-success') && figures.names.includes('placement-clean-accuracy'));
    const spec = await figures.spec('placement-targeted-success') as unknown as { data: { values: Record<string, unknown>[] }; facet: { row: { sort: string[] }; column: { sort: string[] } } };
    assert.equal(spec.facet.row.sort, ['lenet5', 'cnn'], 'a row of panels per model');
    assert.equal(spec.facet.column.sort, ['white', 'magenta'], 'a column of panels per colour');
    assert.is(spec.data.values.length, 2 * 2 * 9);

    // In the SVG every cell is a 26 px rect at (col index, row index) of its panel, labelled with its instance.
    const svg = await figures.svg('placement-targeted-success');
    const cells = [...svg.matchAll(/aria-label="Trigger column: (\d+); Trigger row: (\d+); Targeted success: [^;]*; Instance: (evaluate-[a-z0-9]+)\[color=([a-z]+),row=\d+,col=\d+\]; row: \d+; col: \d+; value: ([\d.]+)%"[^>]*d="M(\d+),(\d+)h26v26h-26Z"/g)];
    assert.is(cells.length, 36, 'one rect per evaluated position');
    for (const [, col, row, stage, color, value, x, y] of cells) {
      const expected = success(stage === 'evaluate-lenet5' ? 0 : 1, color === 'white' ? 0 : 1, Number(row), Number(col));
      assert.is(Number(value), Number((100 * expected).toFixed(1)), `${stage} ${color} (${row}, ${col}) value`);
      assert.is(Number(x), 26 * cols.indexOf(Number(col)), `${stage} ${color} (${row}, ${col}) x`);
      assert.is(Number(y), 26 * rows.indexOf(Number(row)), `${stage} ${color} (${row}, ${col}) y`);
    }
    // The printed percentages, e.g. lenet5 / white / (0, 0) = 1.1 % -> "1".
    const printed = [...svg.matchAll(/aria-label="Trigger column: (\d+); Trigger row: (\d+); percent: [^"]*"[^>]*transform="translate\((\d+),(\d+)\)"[^>]*>(\d+)<\/text>/g)];
    assert.is(printed.length, 36);
    const first = printed[0]!;
    assert.equal(first.slice(1), ['0', '0', '13', '16', '1']);
  } finally {
    await figures.cleanup();
  }
});

test('a missing model x condition combination gets an empty cell, so later panels stay under their headers', async () => {
  const figures = await plotted(async (root) => [
    await fakeInput(root, 'one-pixel-search', 'search-clean-targeted', { model: 'cnn' }, { 'metrics.json': fakeMetrics(0, false) }),
    await fakeInput(root, 'one-pixel-search', 'search-clean-targeted', { model: 'lenet5' }, { 'metrics.json': fakeMetrics(1, false) }),
    await fakeInput(root, 'one-pixel-search', 'search-backdoored-targeted', { model: 'lenet5' }, { 'metrics.json': fakeMetrics(2, false) }),
  ]);
  try {
    const spec = await figures.spec('class-pairs');
    const cells = new Set(spec.data.values.map((v) => `${String(v['condition'])}/${String(v['group'])}/${String(v['id'])}`));
    assert.ok(cells.has('backdoored/cnn/not run'), 'the backdoored CNN panel is an explicit empty cell');
    assert.is(spec.data.values.filter((v) => v['id'] === 'not run').length, 1);
    // In the SVG the backdoored LeNet5 matrix is the fourth panel (row 2, column 2), after the empty one.
    const svg = await figures.svg('class-pairs');
    assert.ok(svg.includes('Instance: search-backdoored-targeted[model=lenet5]'));
    assert.not.ok(svg.includes('Instance: not run'), 'the empty cell draws no mark');
  } finally {
    await figures.cleanup();
  }
});

test.run();
