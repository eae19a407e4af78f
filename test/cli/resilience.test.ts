import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, runManifests as manifests, startCli, tempWorkspace } from '../executor/helpers.js';

const CHAIN = `name: chain
stages:
  first: { kind: test-files, params: { write: { f.txt: first } } }
  slow: { kind: test-files, needs: [first], params: { sleep_ms: 2500 } }
  last: { kind: test-files, needs: [slow] }
`;

test('runner killed with SIGKILL mid-stage: the rerun reuses finished stages and completes', async () => {
  const ws = await tempWorkspace('bdlab-kill-');
  try {
    await ws.write('p.yaml', CHAIN);
    const cli = startCli(['run', 'p.yaml'], ws.dir);
    await cli.waitFor(/slow running/);
    cli.proc.kill('SIGKILL');
    await cli.proc;
    const [killed] = await manifests(ws.dir);
    assert.is(killed!.status, 'running', 'the killed run left its last manifest behind');
    assert.is(killed!.instances['first']!.status, 'succeeded');

    // The killed run's partial output is a dead process's temp dir: the rerun removes it first.
    const tmpBefore = await readdir(join(ws.dir, '.bdlab', 'tmp'));
    assert.is(tmpBefore.length, 1);
    const rerun = await runCli(['run', 'p.yaml'], ws.dir);
    assert.is(rerun.code, 0, rerun.stdout + rerun.stderr);
    assert.match(rerun.stdout, '✓ [1/3] first (cached)');
    const m = (await manifests(ws.dir))[1]!;
    assert.equal(Object.fromEntries(Object.entries(m.instances).map(([id, r]) => [id, r.status])), { first: 'cached', slow: 'succeeded', last: 'succeeded' });
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), [], `${tmpBefore[0]} was removed`);
  } finally {
    await ws.cleanup();
  }
});

test('two concurrent runs on one workspace: both succeed, each stage executes exactly once', async () => {
  const ws = await tempWorkspace('bdlab-conc-');
  try {
    await ws.write('p.yaml', CHAIN.replace('sleep_ms: 2500', 'sleep_ms: 800'));
    const [a, b] = await Promise.all([runCli(['run', 'p.yaml'], ws.dir), runCli(['run', 'p.yaml'], ws.dir)]);
    assert.is(a.code, 0, a.stderr);
    assert.is(b.code, 0, b.stderr);
    const all = await manifests(ws.dir);
    assert.is(all.length, 2, 'two run directories, even when started in the same second');
    for (const id of ['first', 'slow', 'last']) {
      const statuses = all.map((m) => m.instances[id]!.status).sort();
      assert.equal(statuses, ['cached', 'succeeded'], `${id}: ${statuses.join(', ')}`);
    }
  } finally {
    await ws.cleanup();
  }
});

test('SIGINT stops the run with exit code 130 and nothing half-written in the cache', async () => {
  const ws = await tempWorkspace('bdlab-int-');
  try {
    await ws.write('p.yaml', CHAIN.replace('sleep_ms: 2500', 'sleep_ms: 30000'));
    const cli = startCli(['run', 'p.yaml'], ws.dir);
    await cli.waitFor(/slow running/);
    cli.proc.kill('SIGINT');
    const r = await cli.proc;
    assert.is(r.exitCode, 130);
    assert.match(cli.output(), 'slow interrupted');
    assert.match(cli.output(), 'bdlab: run interrupted: 1 succeeded, 0 cached, 1 skipped, 1 interrupted');
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), []);
    const [m] = await manifests(ws.dir);
    assert.is(m!.status, 'interrupted');
    assert.is(m!.instances['last']!.status, 'skipped');
  } finally {
    await ws.cleanup();
  }
});

test.run();
