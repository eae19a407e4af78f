import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/common/paths.js';
import { runCli, tempWorkspace } from '../executor/helpers.js';
import type { CacheEntryMeta } from '../../src/executor/cache.js';
import type { Manifest } from '../../src/executor/manifest.js';

/** Small things a new user meets on first use. */

test('an empty pipeline file is reported at 1:1, like every other diagnostic', async () => {
  const ws = await tempWorkspace('bdlab-first-');
  try {
    await ws.write('empty.yaml', '');
    await ws.write('comment.yaml', '# nothing yet\n');
    for (const file of ['empty.yaml', 'comment.yaml']) {
      const r = await runCli(['validate', file], ws.dir);
      assert.is(r.code, 2);
      assert.match(r.stderr, new RegExp(`^(.*/)?${file.replace('.', '\\.')}:1:1: error: the file has no content: a pipeline needs at least "name" and "stages"`));
    }
  } finally {
    await ws.cleanup();
  }
});

test('bdlab show: a cached instance shows the build time recorded in its cache entry, marked cached', async () => {
  const ws = await tempWorkspace('bdlab-first-');
  try {
    await ws.write('p.yaml', 'name: p\nstages:\n  slow: { kind: test-files, params: { sleep_ms: 300, write: { a.txt: a } } }\n');
    assert.is((await runCli(['run', 'p.yaml'], ws.dir)).code, 0);
    const again = await runCli(['run', 'p.yaml'], ws.dir);
    assert.is(again.code, 0);
    const manifest = JSON.parse(await readFile(join(ws.dir, 'runs', 'latest', 'manifest.json'), 'utf8')) as Manifest;
    const key = manifest.instances['slow']!.cacheKey!;
    assert.is(manifest.instances['slow']!.status, 'cached');
    const entry = JSON.parse(await readFile(join(ws.dir, '.bdlab', 'cache', key.slice(0, 2), key, 'entry.json'), 'utf8')) as CacheEntryMeta;
    assert.ok(entry.durationMs! >= 300, `built in ${entry.durationMs} ms`);
    const show = await runCli(['show', 'latest'], ws.dir);
    assert.is(show.code, 0, show.stderr);
    const expected = entry.durationMs! < 1000 ? `${entry.durationMs} ms` : `${(entry.durationMs! / 1000).toFixed(1)} s`;
    assert.match(show.stdout, new RegExp(`^slow\\s+cached\\s+${expected.replace('.', '\\.')} \\(cached\\)\\s+${key.slice(0, 10)}`, 'm'));
  } finally {
    await ws.cleanup();
  }
});

test('npx bdlab does not rebuild the checkout: prepare does nothing when npm runs it for npx (npm_command=exec)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bdlab-prepare-'));
  try {
    // A copy with no tsconfig.json and no native sources: building would fail loudly.
    await mkdir(join(dir, 'scripts'));
    await cp(join(packageRoot(), 'scripts', 'prepare.mjs'), join(dir, 'scripts', 'prepare.mjs'));
    const env = { ...process.env, npm_command: 'exec' };
    const skipped = spawnSync(process.execPath, [join(dir, 'scripts', 'prepare.mjs')], { encoding: 'utf8', env });
    assert.is(skipped.status, 0, skipped.stderr);
    assert.is(skipped.stdout + skipped.stderr, '');
    // For npm ci (npm_command=ci) it builds, and here that fails: the guard is what skipped it.
    const built = spawnSync(process.execPath, [join(dir, 'scripts', 'prepare.mjs')], { encoding: 'utf8', env: { ...env, npm_command: 'ci' } });
    assert.is.not(built.status, 0);
    const scripts = (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.is(scripts['prepare'], 'node scripts/prepare.mjs');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
