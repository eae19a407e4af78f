import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import plot from '../../src/stages/plot.js';
import type { StageInput } from '../../src/common/stage-contract.js';
import { runCli, tempWorkspace } from '../executor/helpers.js';
import { fakeContext, fakeHistory, fakeInput, fakeMetrics } from './fixtures.js';
import { sweepRun, writeRun } from './run-fixture.js';

/**
 * Opens bdlab's HTML reports in a real headless Chromium (Debian's, driven by playwright-core;
 * nothing is downloaded): no console errors, every figure drawn, every table filled. CI installs
 * chromium (.ci/run) and must run this; elsewhere it is skipped, saying why, when there is none.
 */
const CHROMIUM = (process.env['BDLAB_CHROMIUM'] ? [process.env['BDLAB_CHROMIUM']] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find((p) => existsSync(p));
const IN_CI = process.env['CI'] === 'true';
/** Screenshots land next to this compiled test, in browser-output/, to look at after a run. */
const OUTPUT = fileURLToPath(new URL('./browser-output/', import.meta.url));
/** The flags the project runs Chromium with: no sandbox (CI is root), no network chatter, a fresh profile. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Runs in the page (as text: the project compiles without DOM typings). An <img> is loaded when
 * complete with a natural width; an inline SVG has no natural size, so it counts as drawn when it
 * has a box and marks inside it.
 */
const PROBE = `(() => {
  const figures = [...document.querySelectorAll('figure')].map((figure) => {
    const img = figure.querySelector('img');
    if (img) return { id: figure.id, kind: 'img', width: img.naturalWidth, height: img.naturalHeight, loaded: img.complete && img.naturalWidth > 0 };
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    return { id: figure.id, kind: 'svg', width: box.width, height: box.height, loaded: svg !== null && svg.querySelectorAll('path, rect, text, line').length > 0 };
  });
  const tables = [...document.querySelectorAll('table')].map((table) => ({
    caption: table.querySelector('caption') ? table.querySelector('caption').textContent : '',
    rows: table.querySelectorAll('tbody tr').length,
    emptyCells: [...table.querySelectorAll('tbody td')].filter((td) => td.textContent.trim() === '').length,
  }));
  return { figures, tables };
})()`;

interface PageCheck {
  errors: string[];
  figures: { id: string; kind: string; width: number; height: number; loaded: boolean }[];
  tables: { caption: string; rows: number; emptyCells: number }[];
}

/** Loads a file in the browser and reports what a reader would see wrong with it. */
async function checkPage(file: string, screenshot: string): Promise<PageCheck> {
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(join(tmpdir(), 'bdlab-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM!, headless: true, args: FLAGS, viewport: { width: 1200, height: 900 } });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const seen = (await page.evaluate(PROBE)) as Omit<PageCheck, 'errors'>;
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, ...seen };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

function assertReadable(check: PageCheck, what: string, expected: { figures: number; tables: number }): void {
  assert.equal(check.errors, [], `${what}: no console errors`);
  assert.is(check.figures.length, expected.figures, `${what}: figures`);
  for (const f of check.figures) {
    assert.ok(f.loaded && f.width > 0 && f.height > 0, `${what}: figure ${f.id} drawn (${f.kind} ${f.width}×${f.height})`);
  }
  assert.is(check.tables.length, expected.tables, `${what}: tables`);
  for (const t of check.tables) assert.ok(t.rows > 0 && t.emptyCells === 0, `${what}: table "${t.caption}" has ${t.rows} rows, ${t.emptyCells} empty cells`);
}

if (!CHROMIUM && !IN_CI) {
  console.log(`browser test skipped: no Chromium at ${process.env['BDLAB_CHROMIUM'] || '/usr/bin/chromium'} (install Debian's chromium, or set BDLAB_CHROMIUM to a Chromium binary); CI installs it and runs this test`);
  test.skip('reports open in headless Chromium', () => undefined);
} else {
  test('a run\'s report.html and a compare report open in headless Chromium: no errors, figures drawn, tables filled', async () => {
    assert.ok(CHROMIUM, 'CI=true: Chromium must be installed (.ci/run installs it with apt-get)');
    const ws = await tempWorkspace('bdlab-browser-');
    try {
      // A run's report: the real plot stage over two evaluations and a training.
      const inputs: StageInput[] = [];
      for (const [seed, rate] of [0.01, 0.1].entries()) inputs.push(await fakeInput(ws.dir, 'evaluate', 'evaluate', { rate }, { 'metrics.json': fakeMetrics(seed) }));
      inputs.push(await fakeInput(ws.dir, 'train', 'train', { rate: 0.1 }, { 'history.json': fakeHistory(1, 3) }));
      const ctx = await fakeContext(ws.dir, 'report', inputs);
      const plotted = await plot.run({ formats: ['svg'] }, ctx);
      const runReport = await checkPage(join(ctx.outDir, 'report.html'), join(OUTPUT, 'run-report.png'));
      // success, confidence, clean accuracy, histogram, sweep, curves, two class-pair maps; attack + training tables
      assertReadable(runReport, 'run report', { figures: Number(plotted.metrics?.['figures']), tables: 2 });

      // A compare report of two runs made by `bdlab report`.
      for (const [n, id] of ['20261128T100000Z-sweep-aaaa1111', '20261128T110000Z-sweep-bbbb2222'].entries()) {
        await writeRun(ws.dir, sweepRun(id, 4 + n, { '0': { clean: 0.61, targeted: 0.05, nonTargeted: 0.4, confidence: 0.5 }, '0.1': { clean: 0.6, targeted: 0.99, nonTargeted: 0.99, confidence: 0.99 } }, {
          outputs: (_rate, seed) => ({ 'metrics.json': fakeMetrics(seed + n) }),
          history: (rate) => fakeHistory(n + (rate > 0 ? 1 : 0), 3),
        }));
      }
      const made = await runCli(['report', 'aaaa1111', 'bbbb2222', '-o', 'compare.html'], ws.dir);
      assert.is(made.code, 0, made.stderr);
      const compare = await checkPage(join(ws.dir, 'compare.html'), join(OUTPUT, 'compare-report.png'));
      // Every figure the page embeds (the runs compared, then the single-run figures with the run as a
      // series) must be drawn; tables: runs, comparison, attack metrics, training.
      const embedded = ((await readFile(join(ws.dir, 'compare.html'), 'utf8')).match(/<figure/g) ?? []).length;
      assert.ok(embedded >= 5, `compare report embeds ${embedded} figures`);
      assertReadable(compare, 'compare report', { figures: embedded, tables: 4 });
      console.log(`browser test: screenshots in ${OUTPUT}`);
    } finally {
      await ws.cleanup();
    }
  });
}

test.run();
