import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lstat, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../../src/executor/manifest.js';
import type { PlanFile } from '../../src/executor/run-dir.js';
import { ids, runInProcess, tempWorkspace } from './helpers.js';

const PIPELINE = `name: chain
stages:
  a:
    kind: test-files
    params: { write: { "a.txt": "one" }, progress_steps: 2, metrics: { acc: 0.75, per: { x: 2 } } }
  b:
    kind: test-files
    needs: [a]
    params: { write: { "b.txt": "bee" } }
  c:
    kind: test-files
    params: { write: { "c.txt": "sea" } }
`;

// Same pipeline: comments, other key order, block style, quoting.
const REFORMATTED = `# a comment
name: "chain"
stages:
  c: { kind: test-files, params: { write: { c.txt: sea } } }   # moved up
  a:
    params:
      metrics: { per: { x: 2 }, acc: 0.75 }
      progress_steps: 2
      write:
        a.txt: 'one'
    kind: test-files
  b: { kind: test-files, needs: [a], params: { write: { "b.txt": "bee" } } }
`;

test('rerun is all cache hits, a reformatted file too; a param change rebuilds it and its dependents only', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write('p.yaml', PIPELINE);
    const first = await runInProcess(file, ws.dir);
    assert.is(first.outcome.status, 'succeeded');
    assert.equal(ids(first.of('succeeded')), ['a', 'b', 'c']);
    assert.ok(first.of('progress').some((e) => e.id === 'a' && e.progress.message === 'step 2/2'), 'child progress reaches the events');

    await ws.write('p.yaml', REFORMATTED);
    const second = await runInProcess(file, ws.dir);
    assert.equal(ids(second.of('cache-hit')), ['a', 'b', 'c']);
    assert.is(second.of('instance-started').length, 0, 'no child process for cache hits');

    await ws.write('p.yaml', PIPELINE.replace('"a.txt": "one"', '"a.txt": "two"'));
    const third = await runInProcess(file, ws.dir);
    assert.equal(ids(third.of('succeeded')), ['a', 'b']);
    assert.equal(ids(third.of('cache-hit')), ['c']);
    const bOut = third.outcome.outcomes.get('b')!.outputsDir!;
    assert.is(await readFile(join(bOut, 'inputs.txt'), 'utf8'), 'two', 'the new upstream output reached b');
  } finally {
    await ws.cleanup();
  }
});

test('a corrupted cache entry is reported, rebuilt, and its unchanged dependents stay cached', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write('p.yaml', PIPELINE);
    const first = await runInProcess(file, ws.dir, { only: ['b'] });
    assert.equal(ids(first.of('succeeded')), ['a', 'b'], '--only b runs b and what it needs');
    // Edit through the run directory's outputs link: that is the cache entry itself.
    await writeFile(join(first.outcome.run.dir, 'stages', 'a', 'outputs', 'a.txt'), 'tampered');
    const second = await runInProcess(file, ws.dir, { only: ['b'] });
    const corrupt = second.of('cache-corrupt');
    assert.equal(ids(corrupt), ['a']);
    assert.is(corrupt[0]!.reason, 'outputs/a.txt changed size (3 -> 8 bytes)');
    assert.equal(ids(second.of('succeeded')), ['a']);
    assert.equal(ids(second.of('cache-hit')), ['b'], 'same content after the rebuild, so b keeps its key');
    assert.is(await readFile(join(second.outcome.outcomes.get('a')!.outputsDir!, 'a.txt'), 'utf8'), 'one');

    const forced = await runInProcess(file, ws.dir, { only: ['b'], force: ['a'] });
    assert.equal(ids(forced.of('succeeded')), ['a']);
    assert.equal(ids(forced.of('cache-hit')), ['b']);
  } finally {
    await ws.cleanup();
  }
});

test('run directory: pipeline copy, plan.json with keys, manifest, stage logs, metrics, outputs links, latest', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write('p.yaml', PIPELINE);
    const { outcome } = await runInProcess(file, ws.dir);
    const dir = outcome.run.dir;
    assert.match(outcome.run.id, /^\d{8}T\d{6}Z-chain-[0-9a-f]{8}$/);
    assert.is(await readFile(join(dir, 'pipeline.yaml'), 'utf8'), PIPELINE);
    assert.is(await readlink(join(ws.dir, 'runs', 'latest')), outcome.run.id);

    const plan = JSON.parse(await readFile(join(dir, 'plan.json'), 'utf8')) as PlanFile;
    assert.equal(plan.instances.map((i) => i.id), ['a', 'b', 'c']);
    assert.equal(plan.instances[1]!.inputs, ['a']);
    for (const inst of plan.instances) assert.match(inst.cacheKey ?? '', /^[0-9a-f]{64}$/);

    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.is(m.status, 'succeeded');
    assert.is(m.tool.name, 'bdlab');
    assert.match(m.tool.version, /^\d+\.\d+\.\d+/);
    assert.is(m.node, process.version);
    assert.is(m.pipeline.git, null, 'temp dir is not a git repository');
    assert.ok(Date.parse(m.endedAt!) >= Date.parse(m.startedAt));
    assert.equal(m.counts, { succeeded: 3, cached: 0, failed: 0, skipped: 0, interrupted: 0 });
    assert.equal(Object.keys(m.instances), ['a', 'b', 'c']);
    assert.is(m.instances['a']!.cacheKey, plan.instances[0]!.cacheKey);
    assert.ok(m.instances['a']!.durationMs! > 0);

    const stageA = join(dir, 'stages', 'a');
    assert.equal((await readdir(stageA)).sort(), ['log.txt', 'metrics.json', 'outputs']);
    assert.ok((await lstat(join(stageA, 'outputs'))).isSymbolicLink());
    assert.is(await readlink(join(stageA, 'outputs')), join(ws.dir, '.bdlab', 'cache', plan.instances[0]!.cacheKey!.slice(0, 2), plan.instances[0]!.cacheKey!, 'outputs'));
    assert.equal(JSON.parse(await readFile(join(stageA, 'metrics.json'), 'utf8')), { acc: 0.75, per: { x: 2 } });
    assert.match(await readFile(join(stageA, 'log.txt'), 'utf8'), 'test-files: wrote 1 file(s), 0 input(s)');
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), [], 'no temp dirs left');
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'scratch')), [], 'scratch dirs removed after success');
  } finally {
    await ws.cleanup();
  }
});

test.run();
