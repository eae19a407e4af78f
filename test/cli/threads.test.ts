import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveThreads } from '../../src/executor/threads.js';
import { runCli, tempWorkspace } from '../executor/helpers.js';

test('resolveThreads: --threads > $BDLAB_THREADS > settings.threads > auto, auto = available cores / jobs (at least 1)', () => {
  const threads = (src: Partial<Parameters<typeof resolveThreads>[0]>): number | string => {
    const r = resolveThreads({ jobs: 1, available: 8, ...src });
    return r.ok ? r.value.threads : r.error;
  };
  assert.is(threads({}), 8);
  assert.is(threads({ jobs: 3 }), 2);
  assert.is(threads({ jobs: 2, available: 2 }), 1);
  assert.is(threads({ jobs: 5, available: 2 }), 1);
  assert.is(threads({ settings: 3 }), 3);
  assert.is(threads({ settings: 3, env: '5' }), 5);
  assert.is(threads({ settings: 3, env: '5', cli: '6' }), 6);
  assert.is(threads({ settings: 3, env: ' ' }), 3, 'an empty variable is unset');
  assert.is(threads({ settings: 3, env: 'auto', jobs: 4 }), 2);
  assert.is(threads({ cli: 'AUTO', jobs: 2 }), 4);
  // A stage's granted CPUs (a cluster job) are what auto means there, and cap an explicit count.
  assert.is(threads({ jobs: 4, stageCpus: 6 }), 6);
  assert.is(threads({ cli: '16', stageCpus: 6 }), 6);
  assert.is(threads({ cli: '2', stageCpus: 6 }), 2);
  assert.equal(resolveThreads({ cli: '3', jobs: 1, available: 8 }), { ok: true, value: { threads: 3, source: 'cli', setting: 3 } });
  assert.is(threads({ cli: '0' }), '--threads: "0" is not a thread count: use a whole number from 1 to 1024, or auto (the available cores divided by --jobs)');
  assert.match(String(threads({ env: 'two' })), /^\$BDLAB_THREADS: "two" is not a thread count/);
  assert.match(String(threads({ cli: '1.5' })), /is not a thread count/);
});

const PIPELINE = (settings: string): string =>
  `name: threads\n${settings}stages:\n  a: { kind: test-files, params: { context_file: ctx.json, write: { a.txt: a } } }\n`;

async function seenThreads(dir: string): Promise<unknown> {
  return (JSON.parse(await readFile(join(dir, 'runs', 'latest', 'stages', 'a', 'outputs', 'ctx.json'), 'utf8')) as { threads?: unknown }).threads;
}

async function manifestThreads(dir: string): Promise<unknown> {
  const manifest = JSON.parse(await readFile(join(dir, 'runs', 'latest', 'manifest.json'), 'utf8')) as { options: { threads: unknown } };
  return manifest.options.threads;
}

test('bdlab run: the resolved thread count reaches the stage in $BDLAB_THREADS, is printed at its start and recorded in the manifest; it is not in the cache key', async () => {
  const ws = await tempWorkspace('bdlab-threads-');
  try {
    await ws.write('p.yaml', PIPELINE('settings: { threads: 2 }\n'));
    const first = await runCli(['run', 'p.yaml', '--threads', '3'], ws.dir, { BDLAB_THREADS: '5' });
    assert.is(first.code, 0, first.stderr);
    assert.is(await seenThreads(ws.dir), '3', '--threads beats $BDLAB_THREADS and settings.threads');
    assert.match(first.stdout, /^\[1\/1\] a running \(key [0-9a-f]+, 3 threads\)$/m);
    assert.is(await manifestThreads(ws.dir), 3);

    const again = await runCli(['run', 'p.yaml', '--threads', '1'], ws.dir, { BDLAB_THREADS: '' });
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stdout, 'bdlab: run succeeded: 0 succeeded, 1 cached', 'another thread count reuses the cached result');
    assert.is(await manifestThreads(ws.dir), 1);

    const fromSettings = await runCli(['run', 'p.yaml', '--force', 'a'], ws.dir, { BDLAB_THREADS: '' });
    assert.is(fromSettings.code, 0, fromSettings.stderr);
    assert.is(await seenThreads(ws.dir), '2', 'settings.threads');
    assert.match(fromSettings.stdout, /running \(key [0-9a-f]+, 2 threads\)/);

    const fromEnv = await runCli(['run', 'p.yaml', '--force', 'a'], ws.dir, { BDLAB_THREADS: '4' });
    assert.is(await seenThreads(ws.dir), '4', '$BDLAB_THREADS beats settings.threads');
    assert.is(fromEnv.code, 0);
  } finally {
    await ws.cleanup();
  }
});

test('bdlab run: auto divides the available cores by --jobs; bad thread counts exit 2 with the valid choices', async () => {
  const ws = await tempWorkspace('bdlab-threads-');
  try {
    await ws.write('p.yaml', PIPELINE(''));
    const { availableParallelism } = await import('node:os');
    const auto = await runCli(['run', 'p.yaml', '--jobs', '2', '--threads', 'auto'], ws.dir, { BDLAB_THREADS: '' });
    assert.is(auto.code, 0, auto.stderr);
    assert.is(await seenThreads(ws.dir), String(Math.max(1, Math.floor(availableParallelism() / 2))));

    const bad = await runCli(['run', 'p.yaml', '--threads', 'many'], ws.dir);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, '--threads: "many" is not a thread count: use a whole number from 1 to 1024, or auto');
    const badEnv = await runCli(['run', 'p.yaml'], ws.dir, { BDLAB_THREADS: '0' });
    assert.is(badEnv.code, 2);
    assert.match(badEnv.stderr, '$BDLAB_THREADS: "0" is not a thread count');

    await ws.write('bad.yaml', PIPELINE('settings: { threads: 0 }\n'));
    const badSettings = await runCli(['run', 'bad.yaml'], ws.dir, { BDLAB_THREADS: '' });
    assert.is(badSettings.code, 2);
    assert.match(badSettings.stderr, /bad\.yaml:2:\d+: error: must be integer >= 1 and <= 1024, or auto \(got 0\)\n  at settings\.threads/);
  } finally {
    await ws.cleanup();
  }
});

test.run();
