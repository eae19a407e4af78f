import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunEvents } from '../../src/executor/events.js';
import type { Manifest } from '../../src/executor/manifest.js';
import { LocalExecutor } from '../../src/executor/executors/local.js';
import { openPipeline } from '../../src/executor/open-pipeline.js';
import { runPipeline } from '../../src/executor/run-pipeline.js';
import { ids, runInProcess, tempWorkspace } from './helpers.js';

test('a failing stage skips its dependents; the independent branch completes', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write(
      'p.yaml',
      `name: fails
stages:
  bad: { kind: test-files, params: { fail: "the data set is empty" } }
  after: { kind: test-files, needs: [bad] }
  later: { kind: test-files, needs: [after] }
  crash: { kind: test-files, params: { exit_code: 3, print: "about to crash" } }
  fine: { kind: test-files, params: { write: { ok.txt: ok } } }
`,
    );
    const r = await runInProcess(file, ws.dir);
    assert.is(r.outcome.status, 'failed');
    const failed = r.of('failed');
    assert.equal(ids(failed), ['bad', 'crash']);
    assert.is(failed.find((e) => e.id === 'bad')!.error, 'the data set is empty');
    assert.ok(failed.find((e) => e.id === 'bad')!.userFacing);
    assert.match(failed.find((e) => e.id === 'crash')!.error, 'the stage process exited with code 3 without reporting a result');
    assert.equal(r.of('skipped').map((e) => [e.id, e.reason]), [['after', 'needs bad, which failed'], ['later', 'needs bad, which failed']]);
    assert.equal(ids(r.of('succeeded')), ['fine']);

    const m = JSON.parse(await readFile(join(r.outcome.run.dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(Object.fromEntries(Object.entries(m.instances).map(([id, rec]) => [id, rec.status])), { bad: 'failed', after: 'skipped', later: 'skipped', crash: 'failed', fine: 'succeeded' });
    assert.is(m.instances['bad']!.error, 'the data set is empty');
    const crashLog = await readFile(join(r.outcome.run.dir, 'stages', 'crash', 'log.txt'), 'utf8');
    assert.match(crashLog, '[stdout] about to crash');
    assert.match(crashLog, '[bdlab] failed: the stage process exited with code 3');
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), [], 'partial outputs of failed stages are discarded');
    const cacheDirs = (await readdir(join(ws.dir, '.bdlab', 'cache'))).filter((d) => /^[0-9a-f]{2}$/.test(d));
    assert.is(cacheDirs.length, 1, 'only the successful stage entered the cache');

    // Resume: the failure is fixed, the successful stage is reused.
    await ws.write('p.yaml', (await readFile(file, 'utf8')).replace('fail: "the data set is empty"', 'fail: false').replace('exit_code: 3', 'exit_code: null'));
    const again = await runInProcess(file, ws.dir);
    assert.is(again.outcome.status, 'succeeded');
    assert.equal(ids(again.of('cache-hit')), ['fine']);
    assert.equal(ids(again.of('succeeded')), ['after', 'bad', 'crash', 'later']);
  } finally {
    await ws.cleanup();
  }
});

test('--fail-fast kills the running stages and starts nothing more', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write(
      'p.yaml',
      `name: ff
stages:
  slow: { kind: test-files, params: { sleep_ms: 20000 } }
  bad: { kind: test-files, params: { sleep_ms: 300, fail: true } }
  next: { kind: test-files, params: {} }
`,
    );
    const t0 = Date.now();
    const r = await runInProcess(file, ws.dir, { failFast: true, jobs: 2 });
    assert.ok(Date.now() - t0 < 15000, `stopped early (${Date.now() - t0} ms)`);
    assert.is(r.outcome.status, 'failed');
    assert.equal(ids(r.of('failed')), ['bad']);
    assert.equal(ids(r.of('interrupted')), ['slow']);
    assert.equal(r.of('skipped').map((e) => [e.id, e.reason]), [['next', 'not started: --fail-fast after bad failed']]);
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), []);
  } finally {
    await ws.cleanup();
  }
});

test('an interrupt (Ctrl-C) stops the stage, leaves no temp dir or cache entry, and resume reruns it', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write(
      'p.yaml',
      `name: int
stages:
  quick: { kind: test-files, params: { write: { q.txt: q } } }
  slow: { kind: test-files, needs: [quick], params: { sleep_ms: 20000 } }
`,
    );
    const controller = new AbortController();
    const running = runInProcess(file, ws.dir, { signal: controller.signal });
    // Abort as soon as the slow stage's process is up.
    const poll = setInterval(async () => {
      const runs = await readdir(join(ws.dir, 'runs')).catch(() => [] as string[]);
      const dir = runs.find((r) => r.includes('-int-'));
      if (!dir) return;
      const m = await readFile(join(ws.dir, 'runs', dir, 'manifest.json'), 'utf8').catch(() => '');
      if (m.includes('"running"') && m.includes('"slow": {\n      "status": "running"')) {
        clearInterval(poll);
        controller.abort(new Error('SIGINT'));
      }
    }, 50);
    const r = await running;
    clearInterval(poll);
    assert.is(r.outcome.status, 'interrupted');
    assert.equal(ids(r.of('interrupted')), ['slow']);
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), []);
    const m = JSON.parse(await readFile(join(r.outcome.run.dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.is(m.status, 'interrupted');
    assert.is(m.instances['slow']!.status, 'interrupted');
    assert.equal((await readdir(join(ws.dir, '.bdlab', 'scratch'))).length, 1, 'the scratch dir survives for a resume');
  } finally {
    await ws.cleanup();
  }
});

test('a stage that ignores the abort request is killed after the grace period', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write('p.yaml', `name: stuck\nstages:\n  stuck: { kind: test-files, params: { sleep_ms: 60000, ignore_abort: true } }\n`);
    const controller = new AbortController();
    const opened = await openPipeline({ file, workspace: ws.dir, cwd: ws.dir, env: {}, dataPath: [], only: [], force: [] });
    assert.ok(opened.ok);
    if (!opened.ok) return;
    const events = new RunEvents();
    let abortedAt = 0;
    events.on((e) => {
      if (e.type === 'instance-started') setTimeout(() => ((abortedAt = Date.now()), controller.abort(new Error('SIGTERM'))), 300);
    });
    const outcome = await runPipeline({ opened: opened.value, jobs: 1, failFast: false, only: [], force: [], signal: controller.signal, events, executor: new LocalExecutor({ cwd: ws.dir, killGraceMs: 400 }) });
    const stopMs = Date.now() - abortedAt;
    assert.is(outcome.status, 'interrupted');
    assert.is(outcome.outcomes.get('stuck')!.status, 'interrupted');
    assert.ok(stopMs >= 350 && stopMs < 5000, `killed ${stopMs} ms after the abort (grace 400 ms)`);
  } finally {
    await ws.cleanup();
  }
});

test.run();
