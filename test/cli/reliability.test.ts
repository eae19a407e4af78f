import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, symlink, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { CIFAR10_FILE_BYTES } from '../../src/ml/checksums.js';
import { makeCifarFixture, writeCifarFixtureDirectory } from '../helpers/cifar-fixture.js';
import { runCli, runManifests as manifests, startCli, tempWorkspace } from '../executor/helpers.js';

/** A pid that certainly belongs to no process any more. */
async function deadPid(): Promise<number> {
  const child = execaNode('-e', [''], { reject: false });
  const pid = child.pid!;
  await child;
  return pid;
}

const CHAIN = `name: chain
stages:
  first: { kind: test-files, params: { write: { f.txt: first } } }
  slow: { kind: test-files, needs: [first], params: { sleep_ms: SLEEP } }
  last: { kind: test-files, needs: [slow] }
`;

test('three concurrent runs, a stage longer than the lock stale limit: every instance is built exactly once', async () => {
  const ws = await tempWorkspace('bdlab-three-');
  try {
    await ws.write('p.yaml', CHAIN.replace('SLEEP', '2500'));
    // The stage runs five times longer than the stale limit: only a heartbeat keeps its lock.
    const env = { BDLAB_LOCK_STALE_MS: '500' };
    const results = await Promise.all([1, 2, 3].map(() => runCli(['run', 'p.yaml'], ws.dir, env)));
    for (const r of results) assert.is(r.code, 0, r.stdout + r.stderr);
    const all = await manifests(ws.dir);
    assert.is(all.length, 3);
    for (const id of ['first', 'slow', 'last']) {
      const statuses = all.map((m) => m.instances[id]!.status).sort();
      assert.equal(statuses, ['cached', 'cached', 'succeeded'], `${id} was built ${statuses.filter((s) => s === 'succeeded').length} times`);
      const keys = new Set(all.map((m) => m.instances[id]!.cacheKey));
      assert.is(keys.size, 1, `${id}: one cache key for all three runs`);
    }
    assert.ok(results.some((r) => /slow waiting: another bdlab process \(pid \d+\) is building the same cache entry/.test(r.stdout)), 'a run waited for the lock');
    // Released locks leave nothing behind (no empty lock directories, no run registrations).
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'cache', 'locks')), []);
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'cache', 'live')), []);
  } finally {
    await ws.cleanup();
  }
});

test('a lock whose holder was killed is broken at once by the next run, however young it is', async () => {
  const ws = await tempWorkspace('bdlab-deadlock-');
  try {
    await ws.write('p.yaml', CHAIN.replace('SLEEP', '3000'));
    const cli = startCli(['run', 'p.yaml'], ws.dir);
    await cli.waitFor(/slow running/);
    cli.proc.kill('SIGKILL');
    await cli.proc;
    const locks = (await readdir(join(ws.dir, '.bdlab', 'cache', 'locks'))).filter((n) => n.endsWith('.lock') && !n.startsWith('run-'));
    assert.is(locks.length, 1, 'the killed run left the lock of its running stage');
    // Stale only after ten minutes: the rerun must break the lock because its holder's pid is dead.
    const rerun = await runCli(['run', 'p.yaml'], ws.dir, { BDLAB_LOCK_STALE_MS: '600000' });
    assert.is(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.not.match(rerun.stdout, 'waiting');
    assert.match(rerun.stdout, /✓ \[2\/3\] slow \(/);
  } finally {
    await ws.cleanup();
  }
});

test('gc --keep 0 during a run: the run completes; gc removes the older run and says what it skipped', async () => {
  const ws = await tempWorkspace('bdlab-gc-live-');
  try {
    await ws.write('p.yaml', CHAIN.replace('SLEEP', '10'));
    const before = await runCli(['run', 'p.yaml'], ws.dir);
    assert.is(before.code, 0, before.stderr);
    await ws.write('p.yaml', CHAIN.replace('SLEEP', '3000'));
    const cli = startCli(['run', 'p.yaml'], ws.dir);
    await cli.waitFor(/slow running/);
    const gc = await runCli(['gc', '--keep', '0'], ws.dir);
    assert.is(gc.code, 0, gc.stderr);
    const remaining = (await readdir(join(ws.dir, 'runs'))).filter((r) => /^\d{8}T/.test(r));
    assert.is(remaining.length, 1, 'only the live run directory is left');
    const live = remaining[0]!;
    assert.match(gc.stdout, `removed run `);
    assert.match(gc.stdout, new RegExp(`skipped run ${live}: a running bdlab run uses it \\(pid \\d+ on `));
    assert.match(gc.stdout, /skipped cache entry [0-9a-f]+: a running bdlab run uses it/);
    assert.match(gc.stdout, /; skipped 1 run\(s\), 1 cache entry and 0 temp dir\(s\) in use by running runs or Slurm jobs/);
    const r = await cli.proc;
    assert.is(r.exitCode, 0, cli.output());
    const m = (await manifests(ws.dir))[0]!;
    assert.equal(Object.fromEntries(Object.entries(m.instances).map(([id, rec]) => [id, rec.status])), { first: 'cached', slow: 'succeeded', last: 'succeeded' });
    assert.is(await readFile(join(ws.dir, 'runs', live, 'stages', 'last', 'outputs', 'inputs.txt'), 'utf8'), 'firstfirst');
  } finally {
    await ws.cleanup();
  }
});

test('a run removes what dead runs left: pending temp dirs, half-copied and half-deleted entries, dead locks', async () => {
  const ws = await tempWorkspace('bdlab-sweep-');
  try {
    await ws.write('p.yaml', CHAIN.replace('SLEEP', '10'));
    const dead = await deadPid();
    const key = 'ab'.padEnd(64, 'c');
    const leftovers = [
      join('.bdlab', 'tmp', `${key}.${dead}.0a1b2c3d`, 'outputs'),
      join('.bdlab', 'cache', 'ab', `.${key}.incoming.${dead}.0a1b2c3d`, 'outputs'),
      join('.bdlab', 'cache', 'ab', `${key}.removing.${dead}.0a1b2c3d`, 'outputs'),
    ];
    for (const dir of leftovers) await mkdir(join(ws.dir, dir), { recursive: true });
    await ws.write(join('.bdlab', 'cache', 'locks', `${key}.lock`, 'owner.json'), JSON.stringify({ pid: dead, host: (await import('node:os')).hostname(), since: '' }));
    // A pending dir of a live process (this one) must stay.
    const alive = join('.bdlab', 'tmp', `${key}.${process.pid}.0a1b2c3d`);
    await mkdir(join(ws.dir, alive), { recursive: true });

    const r = await runCli(['run', 'p.yaml'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), [`${key}.${process.pid}.0a1b2c3d`]);
    const prefixDir = await readdir(join(ws.dir, '.bdlab', 'cache', 'ab'));
    assert.equal(prefixDir.filter((n) => n.includes(key)), [], 'half-copied and half-deleted entries are gone');
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'cache', 'locks')), []);
  } finally {
    await ws.cleanup();
  }
});

test('a file as --workspace or --cache-dir: exit 2 before anything is written', async () => {
  const ws = await tempWorkspace('bdlab-notdir-');
  try {
    await ws.write('p.yaml', CHAIN.replace('SLEEP', '10'));
    await ws.write('a-file', 'x');
    const asWorkspace = await runCli(['run', 'p.yaml', '--workspace', 'a-file'], ws.dir);
    assert.is(asWorkspace.code, 2, asWorkspace.stderr);
    assert.match(asWorkspace.stderr, `--workspace ${join(ws.dir, 'a-file')} is a file, not a directory`);
    const asCache = await runCli(['run', 'p.yaml', '--cache-dir', 'a-file'], ws.dir);
    assert.is(asCache.code, 2, asCache.stderr);
    assert.match(asCache.stderr, `--cache-dir ${join(ws.dir, 'a-file')} is a file, not a directory`);
    const below = await runCli(['run', 'p.yaml'], ws.dir, { BDLAB_CACHE_DIR: 'a-file/cache' });
    assert.is(below.code, 2, below.stderr);
    assert.match(below.stderr, `BDLAB_CACHE_DIR ${join(ws.dir, 'a-file', 'cache')} cannot be created: ${join(ws.dir, 'a-file')} is a file, not a directory`);
    const gc = await runCli(['gc', '--workspace', 'a-file'], ws.dir);
    assert.is(gc.code, 2, gc.stderr);
    for (const r of [asWorkspace, asCache, below, gc]) assert.not.match(r.stderr, 'internal error');
    assert.equal((await readdir(ws.dir)).sort(), ['a-file', 'p.yaml'], 'no runs/ or .bdlab/ was created');
  } finally {
    await ws.cleanup();
  }
});

test('settings.cache_dir outside the workspace is rejected with its location; --cache-dir and BDLAB_CACHE_DIR may point outside', async () => {
  const ws = await tempWorkspace('bdlab-boundary-');
  try {
    await mkdir(join(ws.dir, 'work'));
    for (const [dir, line] of [['../outside', 3], [join(ws.dir, 'abs'), 3], ['sub/../../outside', 3]] as const) {
      await ws.write('work/p.yaml', `name: b\nsettings:\n  cache_dir: ${dir}\nstages:\n  a: { kind: test-files }\n`);
      const r = await runCli(['run', 'p.yaml'], join(ws.dir, 'work'));
      assert.is(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, `p.yaml:${line}:14: error: settings.cache_dir "${dir}" points outside the workspace`);
      assert.match(r.stderr, 'pass --cache-dir DIR or set BDLAB_CACHE_DIR');
    }
    assert.equal(await readdir(ws.dir), ['work'], 'nothing written outside the workspace');
    await ws.write('work/p.yaml', `name: b\nsettings:\n  cache_dir: .bdlab/other\nstages:\n  a: { kind: test-files }\n`);
    const inside = await runCli(['run', 'p.yaml'], join(ws.dir, 'work'));
    assert.is(inside.code, 0, inside.stderr);
    assert.ok((await readdir(join(ws.dir, 'work', '.bdlab', 'other'))).length > 0);
    const viaOption = await runCli(['run', 'p.yaml', '--cache-dir', '../shared-cache'], join(ws.dir, 'work'));
    assert.is(viaOption.code, 0, viaOption.stderr);
    const viaEnv = await runCli(['run', 'p.yaml'], join(ws.dir, 'work'), { BDLAB_CACHE_DIR: join(ws.dir, 'env-cache') });
    assert.is(viaEnv.code, 0, viaEnv.stderr);
    assert.equal((await readdir(ws.dir)).sort(), ['env-cache', 'shared-cache', 'work']);
  } finally {
    await ws.cleanup();
  }
});

test('.inf, 1e400 and NaN in numeric params: exit 2 at validation, each with its location', async () => {
  const ws = await tempWorkspace('bdlab-nonfinite-');
  try {
    await ws.write('p.yaml', [
      'name: n',
      'stages:',
      '  data: { kind: fetch, params: { dataset: synthetic } }',
      '  train:',
      '    kind: train',
      '    needs: [data]',
      '    params:',
      '      model: lenet5',
      '      epochs: .inf',
      '      batch_size: 1e400',
      '      limit: .NaN',
      '      learning_rate: -.Inf',
      '',
    ].join('\n'));
    for (const command of ['validate', 'plan', 'run']) {
      const r = await runCli([command, 'p.yaml'], ws.dir);
      assert.is(r.code, 2, `${command}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, 'p.yaml:9:15: error: ".inf" is not a finite number (it overflows to infinity)');
      assert.match(r.stderr, 'p.yaml:10:19: error: "1e400" is not a finite number (it overflows to infinity)');
      assert.match(r.stderr, 'p.yaml:11:14: error: ".NaN" is not a finite number (not a number)');
      assert.match(r.stderr, 'p.yaml:12:22: error: "-.Inf" is not a finite number');
      assert.match(r.stderr, 'at stages.train.params.learning_rate');
      assert.not.match(r.stderr, 'internal error');
      assert.not.match(r.stderr, 'got null');
    }
  } finally {
    await ws.cleanup();
  }
});

test('an oversized matrix: exit 2 naming the matrix, before expanding; the limit is configurable', async () => {
  const ws = await tempWorkspace('bdlab-explode-');
  try {
    const values = Array.from({ length: 1000 }, (_, i) => i).join(', ');
    await ws.write('p.yaml', `name: x\nstages:\n  s:\n    kind: test-files\n    matrix:\n      a: [${values}]\n      b: [${values}]\n      c: [${values}]\n`);
    const r = await runCli(['validate', 'p.yaml'], ws.dir);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, 'p.yaml:5:5: error: the pipeline would have up to 1,000,000,000 instances, more than the limit of 2,000,000; stage "s" alone has up to 1,000,000,000 (a 1000 x b 1000 x c 1000)');
    assert.match(r.stderr, 'at stages.s.matrix');

    // Joins are bounded by the keys' values, not by multiplying upstream counts: 12 instances here.
    await ws.write('q.yaml', 'name: q\nstages:\n  a: { kind: test-files, matrix: { x: [1, 2, 3] } }\n  b: { kind: test-files, needs: [a], matrix: { y: [1, 2, 3] } }\n  c: { kind: test-files, needs: [a, b] }\n');
    const fits = await runCli(['validate', 'q.yaml'], ws.dir, { BDLAB_MAX_INSTANCES: '21' });
    assert.is(fits.code, 0, fits.stderr);
    assert.match(fits.stdout, 'q.yaml: ok (3 stage(s), 21 instance(s))');
    const over = await runCli(['validate', 'q.yaml'], ws.dir, { BDLAB_MAX_INSTANCES: '20' });
    assert.is(over.code, 2);
    assert.match(over.stderr, 'more than the limit of 20');
    const bad = await runCli(['validate', 'q.yaml'], ws.dir, { BDLAB_MAX_INSTANCES: 'lots' });
    assert.is(bad.code, 2);
    assert.match(bad.stderr, 'BDLAB_MAX_INSTANCES=lots: expected a whole number >= 1');
  } finally {
    await ws.cleanup();
  }
});

test('a FIFO as pipeline file: exit 2 at once, without waiting for a writer', async () => {
  const ws = await tempWorkspace('bdlab-fifo-');
  try {
    execFileSync('mkfifo', [join(ws.dir, 'p.yaml')]);
    for (const command of ['validate', 'run']) {
      const r = await runCli([command, 'p.yaml'], ws.dir);
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, 'cannot read the pipeline file: it is a named pipe (FIFO), not a regular file');
    }
  } finally {
    await ws.cleanup();
  }
});

test('bad values in messages are cut and escaped; a nested choice names the property that is wrong', async () => {
  const ws = await tempWorkspace('bdlab-values-');
  try {
    const huge = 'x'.repeat(10 * 1024 * 1024);
    await ws.write('p.yaml', [
      'name: v',
      'stages:',
      `  a: { kind: test-files, params: { sleep_ms: "${huge}" } }`,
      '  b: { kind: test-files, params: { sleep_ms: "\\e[31mred\\a\\x9b" } }',
      '  data: { kind: fetch, params: { dataset: synthetic } }',
      '  poison: { kind: poison, needs: [data], params: { trigger: { row: -1, col: 0, color: red } } }',
      '',
    ].join('\n'));
    const r = await runCli(['validate', 'p.yaml'], ws.dir);
    assert.is(r.code, 2);
    assert.ok(r.stderr.length < 5000, `the report has ${r.stderr.length} characters`);
    assert.match(r.stderr, `(got "${'x'.repeat(80)}…" (10485760 characters))`);
    assert.match(r.stderr, '(got "\\u001b[31mred\\u0007\\x9b")');
    assert.not.match(r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    assert.match(r.stderr, 'must be integer >= 0 (got -1)\n  at stages.poison.params.trigger.row');
  } finally {
    await ws.cleanup();
  }
});

test('data path entries that never end or are too big fail at once with a clear message', async () => {
  const ws = await tempWorkspace('bdlab-bounded-');
  try {
    const fixture = makeCifarFixture(2, 2);
    await ws.write('p.yaml', 'name: f\nstages:\n  data: { kind: fetch, params: { dataset: cifar10, download: false, verify: false } }\n');
    // A data file that is a symlink to an endless device.
    const device = join(ws.dir, 'device');
    const deviceDir = await writeCifarFixtureDirectory(device, fixture);
    await rm(join(deviceDir, 'data_batch_2.bin'));
    await symlink('/dev/zero', join(deviceDir, 'data_batch_2.bin'), 'file');
    // A data file larger than a CIFAR-10 batch can be (sparse: costs no disk).
    const oversized = join(ws.dir, 'oversized');
    const oversizedDir = await writeCifarFixtureDirectory(oversized, fixture);
    await truncate(join(oversizedDir, 'data_batch_1.bin'), CIFAR10_FILE_BYTES + 3073);
    // A tarball that is a symlink to an endless device.
    const tarball = join(ws.dir, 'tarball');
    await mkdir(tarball);
    await symlink('/dev/zero', join(tarball, 'cifar-10-binary.tar.gz'), 'file');

    const cases: [string, RegExp][] = [
      [device, /Cannot read \S+data_batch_2\.bin as CIFAR-10 data: it is a character device, not a regular file/],
      [oversized, /Cannot read \S+data_batch_1\.bin as CIFAR-10 data: it has 30733073 bytes \(30\.7 MB\), more than the 30730000 bytes \(30\.7 MB\) allowed/],
      [tarball, /Cannot read \S+cifar-10-binary\.tar\.gz: it is a character device, not a regular file/],
    ];
    for (const [dir, message] of cases) {
      const r = await runCli(['run', 'p.yaml', '--data-path', dir], ws.dir);
      assert.is(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, message);
    }
  } finally {
    await ws.cleanup();
  }
});

test.run();
