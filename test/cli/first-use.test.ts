import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readlink, realpath, rm } from 'node:fs/promises';
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

test('npm ci links the checkout\'s own command, so npx bdlab runs this checkout (not a copy npx installs first)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bdlab-bin-'));
  try {
    // A checkout's package.json, bin/ and scripts/, with a node_modules/.bin holding a stale link.
    for (const file of ['package.json', 'bin', join('scripts', 'link-bin.mjs')]) await cp(join(packageRoot(), file), join(dir, file), { recursive: true });
    await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
    spawnSync('ln', ['-s', '../../elsewhere.js', join(dir, 'node_modules', '.bin', 'bdlab')]);
    for (let run = 0; run < 2; run++) {
      const r = spawnSync(process.execPath, [join(dir, 'scripts', 'link-bin.mjs')], { encoding: 'utf8' });
      assert.is(r.status, 0, r.stderr);
      assert.is(r.stderr, '');
      assert.is(await readlink(join(dir, 'node_modules', '.bin', 'bdlab')), join('..', '..', 'bin', 'bdlab.js'));
    }
    assert.is(await realpath(join(dir, 'node_modules', '.bin', 'bdlab')), await realpath(join(dir, 'bin', 'bdlab.js')));
    // And npm runs it as part of prepare, which npm ci runs.
    const scripts = (JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts['prepare']!, 'node scripts/link-bin.mjs');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
