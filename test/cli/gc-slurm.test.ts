import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { shortKey, type CacheKey } from '../../src/executor/fingerprint.js';
import { jobFilesOf, type JobRecord } from '../../src/executor/job-protocol.js';
import type { Manifest } from '../../src/executor/manifest.js';
import { runCli, tempWorkspace } from '../executor/helpers.js';

/** A pid that certainly belongs to no process any more: the killed head's. */
async function deadPid(): Promise<number> {
  const child = execaNode('-e', [''], { reject: false });
  const pid = child.pid!;
  await child;
  return pid;
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/**
 * A stand-in for Slurm's squeue first on PATH: it knows job 4242 in the state written to `state`
 * (with the job's name, as `--format=%i|%T|%r|%N|%j` prints it; also when asked by that name),
 * answers as a down controller does for the state DOWN, and logs every call to `calls.txt`.
 */
async function fakeSqueue(dir: string, jobName: string): Promise<{ setState(state: string): Promise<void>; calls(): Promise<string[]> }> {
  await mkdir(dir, { recursive: true });
  const script = join(dir, 'squeue');
  await writeFile(
    script,
    `#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/calls.txt"
if [ "$(cat "$here/state")" = DOWN ]; then
  echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1
fi
case "$*" in
  *--jobs=*4242*) echo "4242|$(cat "$here/state")|None|node1|${jobName}" ;;
  *--name=${jobName}*) echo "4242|$(cat "$here/state")|None|node1" ;;
  *) echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1 ;;
esac
`,
  );
  await chmod(script, 0o755);
  return {
    setState: (state) => writeFile(join(dir, 'state'), state),
    calls: async () => (await readFile(join(dir, 'calls.txt'), 'utf8').catch(() => '')).split('\n').filter(Boolean),
  };
}

/** Runs a one-instance pipeline (instance `a`) in `ws`; returns its run, cache key and cache entry. */
async function runOneInstance(ws: Awaited<ReturnType<typeof tempWorkspace>>): Promise<{ runId: string; key: CacheKey; entryDir: string }> {
  await ws.write('p.yaml', 'name: one\nstages:\n  a: { kind: test-files, params: { write: { f.txt: a } } }\n');
  const built = await runCli(['run', 'p.yaml'], ws.dir);
  assert.is(built.code, 0, built.stderr);
  const runId = (await readdir(join(ws.dir, 'runs'))).find((r) => /^\d{8}T/.test(r))!;
  const manifest = JSON.parse(await readFile(join(ws.dir, 'runs', runId, 'manifest.json'), 'utf8')) as Manifest;
  const key = manifest.instances['a']!.cacheKey as CacheKey;
  return { runId, key, entryDir: join(ws.dir, '.bdlab', 'cache', key.slice(0, 2), key) };
}

test('gc after a Slurm head was killed: the pending dir and cache entry its job still writes are skipped while squeue says it runs, or while Slurm cannot be asked and the job left no result', async () => {
  const ws = await tempWorkspace('bdlab-gc-slurm-');
  try {
    const { runId, key, entryDir } = await runOneInstance(ws);
    assert.ok(await exists(entryDir));

    // What a head killed with kill -9 leaves: its pending directory (named after its dead pid) that
    // the job writes into, and the job record in the key's scratch directory.
    const head = await deadPid();
    const tmpDir = join(ws.dir, '.bdlab', 'tmp');
    const pendingName = `${key}.${head}.0a1b2c3d`;
    const pending = join(tmpDir, pendingName);
    await mkdir(join(pending, 'outputs'), { recursive: true });
    await writeFile(join(pending, 'outputs', 'half.txt'), 'still being written');
    const orphan = `${'f'.repeat(64)}.${head}.0a1b2c3e`;
    await mkdir(join(tmpDir, orphan), { recursive: true });
    const files = jobFilesOf(join(ws.dir, '.bdlab', 'scratch', key));
    await mkdir(files.dir, { recursive: true });
    const jobName = `bdlab-a-${key.slice(0, 12)}`;
    const record: JobRecord = {
      jobId: '4242',
      jobName,
      attempt: 1,
      submittedAt: new Date().toISOString(),
      head: { pid: head, host: hostname() },
      pending: { dir: pending, outputsDir: join(pending, 'outputs') },
      script: join(ws.dir, 'runs', runId, 'stages', 'a', 'job.sh'),
    };
    await writeFile(files.record, JSON.stringify(record));

    const bin = join(ws.dir, 'bin');
    const squeue = await fakeSqueue(bin, jobName);
    const withSqueue = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    await squeue.setState('RUNNING');
    const running = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
    assert.is(running.code, 0, running.stderr);
    const by = `Slurm job 4242 (RUNNING) still writes into it (submitted by pid ${head} on ${hostname()})`;
    assert.match(running.stdout, `skipped temp dir ${pendingName}: ${by}`);
    assert.match(running.stdout, `skipped cache entry ${shortKey(key)}: ${by}`);
    assert.match(running.stdout, `removed temp dir ${orphan}`);
    assert.match(running.stdout, `removed run ${runId}`);
    assert.match(running.stdout, /; skipped 0 run\(s\), 1 cache entry and 1 temp dir\(s\) in use by running runs or Slurm jobs/);
    assert.is(await readFile(join(pending, 'outputs', 'half.txt'), 'utf8'), 'still being written');
    assert.ok(await exists(entryDir), 'the cache entry is kept');
    assert.ok(await exists(files.record), 'the scratch dir is kept');
    assert.equal(await squeue.calls(), ['--noheader --states=all --jobs=4242 --format=%i|%T|%r|%N|%j'], 'one squeue call for the whole gc');

    // The controller does not answer: the job left no result yet, so it may still be writing.
    await squeue.setState('DOWN');
    const noSlurm = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
    assert.is(noSlurm.code, 0, noSlurm.stderr);
    assert.match(
      noSlurm.stdout,
      `skipped temp dir ${pendingName}: Slurm job 4242 (no result yet; Slurm could not be asked: squeue failed: slurm_load_jobs error: Unable to contact slurm controller (connect failure)) may still write into it`,
    );
    assert.ok(await exists(pending));

    // The job finished with its outputs: they wait for a rerun to adopt them, whether Slurm answers or not.
    await writeFile(files.result, JSON.stringify({ type: 'done', result: {}, contentHash: '0'.repeat(64) }));
    for (const state of ['COMPLETED', 'DOWN']) {
      await squeue.setState(state);
      const done = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
      assert.is(done.code, 0, done.stderr);
      assert.match(done.stdout, `skipped temp dir ${pendingName}: Slurm job 4242 finished with a result that a rerun adopts (submitted by pid ${head} on ${hostname()})`);
      assert.ok(await exists(pending), state);
    }
    // Slurm says it failed after writing the result: a rerun runs the instance again, so its files go.
    await squeue.setState('FAILED');
    const failed = await runCli(['gc', '--keep', '0', '--dry-run'], ws.dir, withSqueue);
    assert.is(failed.code, 0, failed.stderr);
    assert.match(failed.stdout, `would remove temp dir ${pendingName}`);
    await rm(files.result);

    // The same job ended without a result: its leftovers go like any dead process's.
    await squeue.setState('COMPLETED');
    const ended = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
    assert.is(ended.code, 0, ended.stderr);
    assert.not.match(ended.stdout, 'skipped');
    assert.match(ended.stdout, `removed temp dir ${pendingName}`);
    assert.match(ended.stdout, `removed cache entry ${shortKey(key)}`);
    assert.not.ok(await exists(pending));
    assert.not.ok(await exists(entryDir));

    // Without Slurm's word, a job that wrote its result file has finished writing.
    await squeue.setState('DOWN');
    await mkdir(join(pending, 'outputs'), { recursive: true });
    await writeFile(files.result, JSON.stringify({ type: 'error', message: 'x', userFacing: true }));
    const finished = await runCli(['gc'], ws.dir, withSqueue);
    assert.is(finished.code, 0, finished.stderr);
    assert.match(finished.stdout, `removed temp dir ${pendingName}`);
    assert.not.ok(await exists(pending));
  } finally {
    await ws.cleanup();
  }
});

test('gc after a head was killed between sbatch and recording the job id: the started job is found by its name, and what it writes stays while it runs', async () => {
  const ws = await tempWorkspace('bdlab-gc-slurm-unrecorded-');
  try {
    const { key, entryDir } = await runOneInstance(ws);

    // No job.json: only what the started job itself wrote, start.json naming its instance and outputs.
    const head = await deadPid();
    const pendingName = `${key}.${head}.0a1b2c3d`;
    const pending = join(ws.dir, '.bdlab', 'tmp', pendingName);
    await mkdir(join(pending, 'outputs'), { recursive: true });
    const files = jobFilesOf(join(ws.dir, '.bdlab', 'scratch', key));
    await mkdir(files.dir, { recursive: true });
    await writeFile(files.start, JSON.stringify({ type: 'start', kind: 'test-files', params: {}, id: 'a', outDir: join(pending, 'outputs') }));

    const bin = join(ws.dir, 'bin');
    const jobName = `bdlab-a-${key.slice(0, 12)}`;
    const squeue = await fakeSqueue(bin, jobName);
    const withSqueue = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    await squeue.setState('RUNNING');
    const running = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
    assert.is(running.code, 0, running.stderr);
    const by = 'Slurm job 4242 (RUNNING) still writes into it (submitted by a run that was killed while submitting it)';
    assert.match(running.stdout, `skipped temp dir ${pendingName}: ${by}`);
    assert.match(running.stdout, `skipped cache entry ${shortKey(key)}: ${by}`);
    assert.ok(await exists(pending));
    assert.ok(await exists(entryDir));
    assert.equal(await squeue.calls(), [`--noheader --states=all --name=${jobName} --format=%i|%T|%r|%N`]);

    await squeue.setState('DOWN');
    const noSlurm = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
    assert.match(noSlurm.stdout, `skipped temp dir ${pendingName}: Slurm job ${jobName} (no result yet; Slurm could not be asked: squeue failed`);
    assert.ok(await exists(pending));

    // Ended without a result: its leftovers go like any dead process's.
    await squeue.setState('CANCELLED');
    const ended = await runCli(['gc', '--keep', '0'], ws.dir, withSqueue);
    assert.is(ended.code, 0, ended.stderr);
    assert.match(ended.stdout, `removed temp dir ${pendingName}`);
    assert.match(ended.stdout, `removed cache entry ${shortKey(key)}`);
    assert.not.ok(await exists(pending));
  } finally {
    await ws.cleanup();
  }
});

test.run();
