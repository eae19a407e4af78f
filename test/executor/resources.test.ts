import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderJobScript, sbatchOptions, type JobScriptRequest } from '../../src/executor/executors/job-script.js';
import { jobFilesOf } from '../../src/executor/job-protocol.js';
import { memoryBytes, timeLimitSeconds } from '../../src/pipeline/resources.js';
import { ids, runInProcess, runMain, tempWorkspace } from './helpers.js';

test('time limits and memory amounts read as sbatch reads them', () => {
  assert.is(timeLimitSeconds(90), 90 * 60);
  assert.is(timeLimitSeconds('90'), 90 * 60);
  assert.is(timeLimitSeconds('1:30'), 90);
  assert.is(timeLimitSeconds('2:00:05'), 2 * 3600 + 5);
  assert.is(timeLimitSeconds('1-12'), 36 * 3600);
  assert.is(timeLimitSeconds('1-00:30'), 24 * 3600 + 30 * 60);
  assert.is(timeLimitSeconds('2-01:02:03'), 2 * 86400 + 3600 + 2 * 60 + 3);
  assert.is(memoryBytes(512), 512 * 1024 ** 2);
  assert.is(memoryBytes('512'), 512 * 1024 ** 2);
  assert.is(memoryBytes('4G'), 4 * 1024 ** 3);
  assert.is(memoryBytes('100K'), 100 * 1024);
});

test('a job script carries the stage\'s resources over settings.slurm, then the extra sbatch arguments', () => {
  const files = jobFilesOf('/ws/.bdlab/scratch/abc');
  const req: JobScriptRequest = {
    instanceId: 'train[model=lenet5]',
    cacheKey: 'abc',
    jobName: 'bdlab-train-abc',
    files,
    workdir: '/ws dir',
    node: '/usr/bin/node',
    entry: '/app/dist/src/stages/job.js',
    resources: { cpus: 4, time: '1:30:00' },
    threads: 4,
    slurm: { partition: 'gpu', account: 'lab', qos: 'short', time: 10, mem: '8G', sbatch_args: ['--gres=gpu:1'] },
    start: { type: 'start', id: 'train[model=lenet5]', kind: 'train', params: {}, inputs: [], outDir: '/o', scratchDir: '/ws/.bdlab/scratch/abc', dataPath: [], backend: 'auto' },
  };
  assert.equal(sbatchOptions(req), [
    '--job-name=bdlab-train-abc',
    '--output=/ws/.bdlab/scratch/abc/slurm/stdout.txt',
    '--error=/ws/.bdlab/scratch/abc/slurm/stderr.txt',
    '--chdir=/ws dir',
    '--no-requeue',
    '--ntasks=1',
    '--cpus-per-task=4',
    '--mem=8G',
    '--time=0-01:30:00',
    '--partition=gpu',
    '--account=lab',
    '--qos=short',
    '--gres=gpu:1',
  ]);
  const script = renderJobScript(req);
  assert.match(script, '#SBATCH "--chdir=/ws dir"\n');
  assert.match(script, '\nexport BDLAB_THREADS=4\n');
  assert.match(script, "\ncat > /ws/.bdlab/scratch/abc/slurm/start.json <<'BDLAB_START_MESSAGE'\n{\"type\":\"start\",\"id\":\"train[model=lenet5]\"");
  assert.match(script, '\n/usr/bin/node /app/dist/src/stages/job.js /ws/.bdlab/scratch/abc/slurm/start.json\nstatus=$?\necho "$status" > /ws/.bdlab/scratch/abc/slurm/exit-status\n');
});

test('locally, an instance running past resources.time is stopped and fails; others go on', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write(
      'p.yaml',
      `name: local-time
stages:
  slow: { kind: test-files, resources: { time: "0:01" }, params: { sleep_ms: 30000 } }
  after: { kind: test-files, needs: [slow] }
  fine: { kind: test-files, resources: { time: 5 }, params: { sleep_ms: 100 } }
`,
    );
    const r = await runInProcess(file, ws.dir, { jobs: 2 });
    assert.is(r.outcome.status, 'failed');
    assert.equal(r.of('failed').map((e) => [e.id, e.error]), [['slow', 'ran past its time limit of 0:01 (resources.time) and was stopped']]);
    assert.equal(ids(r.of('succeeded')), ['fine']);
    assert.equal(ids(r.of('skipped')), ['after']);
  } finally {
    await ws.cleanup();
  }
});

test('locally, an instance whose memory grows past resources.mem is killed', async () => {
  const ws = await tempWorkspace();
  try {
    // Node alone takes tens of megabytes: a 1M limit is exceeded at the first check.
    const file = await ws.write('p.yaml', `name: local-mem\nstages:\n  big: { kind: test-files, resources: { mem: 1M }, params: { sleep_ms: 20000 } }\n`);
    const r = await runInProcess(file, ws.dir);
    const failed = r.of('failed');
    assert.equal(ids(failed), ['big']);
    assert.match(failed[0]!.error, /^used \d+\.\d\d GiB, more than its memory limit of 1M \(resources\.mem\), and was killed$/);
  } finally {
    await ws.cleanup();
  }
});

test('locally, resources.cpus takes that many --jobs slots (capped at --jobs) and reaches the stage', async () => {
  const ws = await tempWorkspace();
  try {
    const file = await ws.write(
      'p.yaml',
      `name: local-cpus
stages:
  two: { kind: test-files, resources: { cpus: 2 }, params: { sleep_ms: 300, context_file: c.json } }
  more: { kind: test-files, resources: { cpus: 3 }, params: { sleep_ms: 302, context_file: c.json } }
  one_a: { kind: test-files, params: { sleep_ms: 300 } }
  one_b: { kind: test-files, params: { sleep_ms: 301 } }
`,
    );
    const r = await runInProcess(file, ws.dir, { jobs: 2 });
    assert.is(r.outcome.status, 'succeeded');
    // Replaying the events: a 2-slot instance never runs alongside another; the 1-slot ones run together.
    const big = new Set(['two', 'more']);
    const running = new Set<string>();
    let overlapped = false;
    for (const e of r.events) {
      if (e.type === 'instance-started') {
        assert.ok(!big.has(e.id) || running.size === 0, `${e.id} started while ${[...running].join(', ')} ran`);
        assert.ok(![...running].some((id) => big.has(id)), `${e.id} started while a 2-slot instance ran`);
        if (running.size > 0) overlapped = true;
        running.add(e.id);
      } else if (e.type === 'succeeded') {
        running.delete(e.id);
      }
    }
    assert.ok(overlapped, 'one_a and one_b, one slot each, ran at the same time');
    assert.equal(ids(r.of('instance-started')), ['more', 'one_a', 'one_b', 'two']);
    const seen = JSON.parse(await readFile(join(ws.dir, 'runs', 'latest', 'stages', 'more', 'outputs', 'c.json'), 'utf8')) as { cpus?: number };
    assert.is(seen.cpus, 3);
  } finally {
    await ws.cleanup();
  }
});

test('bad resources and executor settings are reported with their place and what is valid', async () => {
  const ws = await tempWorkspace();
  try {
    await ws.write(
      'p.yaml',
      `name: bad-resources
settings:
  executor: cluster
  slurm: { poll_interval: 0.01, sbatch_args: "--exclusive" }
stages:
  a:
    kind: test-files
    resources: { cpus: 0, time: "1h", mem: 4GB, gpus: 1 }
`,
    );
    const r = await runMain(['validate', 'p.yaml'], ws.dir);
    assert.is(r.code, 2);
    const errors = r.stderr.split('\n').filter((line) => line.includes(': error: '));
    assert.equal(errors.map((line) => line.replace(/^.*p\.yaml:/, '')), [
      '3:13: error: must be one of "local" or "slurm" (got "cluster")',
      '4:27: error: must be number >= 0.2 (got 0.01)',
      '4:46: error: must be a list (got "--exclusive")',
      '8:24: error: must be integer >= 1 (got 0)',
      '8:33: error: must be a time limit such as 30 (minutes), 1:30 (M:S), 2:00:00 (H:M:S) or 1-12:00:00 (D-H:M:S) (got "1h")',
      '8:44: error: must be a memory amount such as 500M, 4G or 2048 (megabytes) (got "4GB")',
      '8:49: error: unknown property "gpus"; did you mean "cpus"?',
    ]);
  } finally {
    await ws.cleanup();
  }
});

test.run();
