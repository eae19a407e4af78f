/**
 * The Slurm executor against a real Slurm (scripts/slurm-local.sh start sets up a single-node one;
 * .ci/run does so in CI). Every test drives the built CLI. Without sbatch or a controller the tests
 * are skipped with the reason printed, except in CI (CI=true), where that is a failure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, execaNode, type ResultPromise } from 'execa';
import type { Manifest } from '../../src/executor/manifest.js';
import { describeEnding, SLURM_STATES } from '../../src/executor/executors/slurm-states.js';
import { jobFilesOf } from '../../src/executor/job-protocol.js';
import { sanitizeInstanceId } from '../../src/pipeline/instance-id.js';
import type { InstanceId } from '../../src/pipeline/types.js';
import { CLI, runCli, tempWorkspace, type TempWorkspace } from './helpers.js';

async function slurmUnavailable(): Promise<string | undefined> {
  const sbatch = await execa('sbatch', ['--version'], { reject: false });
  if (sbatch.failed && sbatch.exitCode === undefined) return 'sbatch is not on PATH (scripts/slurm-local.sh start installs and starts a single-node Slurm)';
  const ping = await execa('scontrol', ['ping'], { reject: false });
  if (!/\bUP\b/.test(String(ping.stdout))) return `the Slurm controller is not up (scontrol ping: ${String(ping.stdout || ping.stderr).trim()}); run scripts/slurm-local.sh start`;
  return undefined;
}

const unavailable = await slurmUnavailable();
const inCi = process.env['CI'] === 'true';
if (unavailable && !inCi) console.log(`\n  Slurm tests skipped: ${unavailable}\n`);
const slurmTest = unavailable && !inCi ? test.skip : test;

/** A fresh value in params makes fresh cache keys, so jobs of earlier test runs (still listed by squeue) never match. */
const nonce = randomBytes(4).toString('hex');
const POLL = 'settings:\n  slurm: { poll_interval: 0.3 }\n';

function startCli(args: string[], cwd: string): ResultPromise {
  return execaNode(CLI, args, { cwd, reject: false, env: { BDLAB_DATA_PATH: '', BDLAB_BACKEND: '' }, stdin: 'ignore' });
}

async function latestManifest(ws: TempWorkspace): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(ws.dir, 'runs', 'latest', 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

async function waitForManifest(ws: TempWorkspace, what: string, ok: (m: Manifest) => boolean, timeoutMs = 60_000): Promise<Manifest> {
  const deadline = Date.now() + timeoutMs;
  let last: Manifest | undefined;
  while (Date.now() < deadline) {
    last = await latestManifest(ws);
    if (last && ok(last)) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}; last manifest instances: ${JSON.stringify(last?.instances)}`);
}

async function metricsFiles(runDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dir of await readdir(join(runDir, 'stages'))) {
    const file = join(runDir, 'stages', dir, 'metrics.json');
    if (existsSync(file)) out[dir] = readFileSync(file, 'utf8');
  }
  return out;
}

/** Jobs Slurm knows (queued, running or recently finished) by job name. */
async function jobsNamed(prefix: string): Promise<Map<string, string[]>> {
  const r = await execa('squeue', ['--noheader', '--states=all', '--format=%j|%i'], { reject: false });
  const byName = new Map<string, string[]>();
  for (const line of String(r.stdout).split('\n')) {
    const [name, id] = line.trim().split('|');
    if (!name?.startsWith(prefix) || !id) continue;
    byName.set(name, [...(byName.get(name) ?? []), id]);
  }
  return byName;
}

// A stage running past its time limit: Slurm enforces limits in whole minutes and checks them
// about every 30 s, so this run takes 60-90 s. It starts now and runs alongside the other tests;
// the last test checks it.
const timeoutWs = unavailable ? undefined : await tempWorkspace('bdlab-slurm-timeout-');
const timeoutRun = timeoutWs
  ? (async () => {
      await timeoutWs.write(
        'p.yaml',
        `name: slurm-timeout\n${POLL}stages:\n  forever:\n    kind: test-files\n    resources: { time: 1 }\n    params: { sleep_ms: 600000, print: "${nonce}" }\n`,
      );
      return startCli(['run', 'p.yaml', '--executor', 'slurm'], timeoutWs.dir);
    })()
  : undefined;

slurmTest('a fan-out/fan-in pipeline gives the same metrics.json files and cache keys under Slurm as locally; every instance ran as a job', async () => {
  const text = `name: slurm-same
${POLL}stages:
  data:
    kind: fetch
    params: { dataset: synthetic, synthetic: { train: 10, test: 5 } }
  part:
    kind: test-files
    needs: [data]
    matrix: { shard: [1, 2, 3] }
    params: { write: { shard.txt: "shard \${{ matrix.shard }}" }, metrics: { shard: "\${{ matrix.shard }}" } }
  work:
    kind: test-files
    needs: [part]
    resources: { cpus: 1, mem: 200M, time: "5:00" }
    params: { write: { v.txt: "work on \${{ matrix.shard }}" }, metrics: { worked: "\${{ matrix.shard }}" }, context_file: context.json }
  gather:
    kind: test-files
    needs: [{ stage: work, fan_in: true }]
    params: { metrics: { gathered: true } }
`;
  const local = await tempWorkspace('bdlab-slurm-local-');
  const slurm = await tempWorkspace('bdlab-slurm-same-');
  try {
    await local.write('p.yaml', text);
    await slurm.write('p.yaml', text);
    const [l, s] = await Promise.all([runCli(['run', 'p.yaml', '--jobs', '4'], local.dir), runCli(['run', 'p.yaml', '--executor', 'slurm'], slurm.dir)]);
    assert.is(l.code, 0, l.stderr);
    assert.is(s.code, 0, s.stderr + s.stdout);
    const lm = (await latestManifest(local))!;
    const sm = (await latestManifest(slurm))!;
    assert.is(Object.keys(sm.instances).length, 8);
    assert.is(sm.options.executor, 'slurm');
    assert.is(lm.options.executor, 'local');

    const lMetrics = await metricsFiles(join(local.dir, 'runs', 'latest'));
    const sMetrics = await metricsFiles(join(slurm.dir, 'runs', 'latest'));
    assert.is(Object.keys(sMetrics).length, 8);
    assert.equal(sMetrics, lMetrics);
    assert.match(sMetrics['data']!, '"train": 10');
    // Keys fold in the content hash of every upstream output: equal keys mean equal outputs all the way down.
    for (const [id, rec] of Object.entries(sm.instances)) assert.is(rec.cacheKey, lm.instances[id]!.cacheKey, id);

    const jobIds = Object.values(sm.instances).map((rec) => rec.job?.jobId);
    assert.ok(jobIds.every((id) => typeof id === 'string' && /^\d+$/.test(id)), `job ids: ${jobIds.join(', ')}`);
    assert.is(new Set(jobIds).size, 8);
    assert.ok(Object.values(sm.instances).every((rec) => rec.job?.state === 'COMPLETED' && rec.status === 'succeeded'));
    assert.ok(Object.values(lm.instances).every((rec) => rec.job === undefined));
    assert.match(s.stdout, /queued as Slurm job \d+/);
    assert.match(s.stdout, /running on \S+ \(Slurm job \d+\)/);

    // The job script is in the run directory, with the stage's resources.
    const workDir = join(slurm.dir, 'runs', 'latest', 'stages', sanitizeInstanceId('work[shard=1]' as InstanceId));
    const script = await readFile(join(workDir, 'job.sh'), 'utf8');
    assert.match(script, '#SBATCH --cpus-per-task=1');
    assert.match(script, '#SBATCH --mem=200M');
    assert.match(script, '#SBATCH --time=0-00:05:00');
    assert.match(script, /#SBATCH --job-name=bdlab-work-[0-9a-f]{12}/);
    const context = JSON.parse(await readFile(join(workDir, 'outputs', 'context.json'), 'utf8')) as { cpus?: number };
    assert.is(context.cpus, 1, 'resources.cpus reaches the stage on the compute node');
    const log = await readFile(join(slurm.dir, 'runs', 'latest', 'stages', 'gather', 'log.txt'), 'utf8');
    assert.match(log, /\[bdlab\] submitted Slurm job \d+/);
    assert.match(log, 'test-files: wrote 0 file(s), 3 input(s)');
  } finally {
    await local.cleanup();
    await slurm.cleanup();
  }
});

slurmTest('scancel of one job: that instance fails "cancelled", its dependents are skipped, the other branch finishes', async () => {
  const ws = await tempWorkspace('bdlab-slurm-scancel-');
  try {
    await ws.write(
      'p.yaml',
      `name: slurm-scancel
${POLL}stages:
  victim: { kind: test-files, params: { sleep_ms: 120000, print: "${nonce}" } }
  after: { kind: test-files, needs: [victim] }
  other: { kind: test-files, params: { sleep_ms: 1500, write: { o.txt: "${nonce}" } } }
  other_next: { kind: test-files, needs: [other], params: { metrics: { fine: 1 } } }
  bad: { kind: test-files, params: { fail: "the data set is empty ${nonce}" } }
  crash: { kind: test-files, params: { exit_code: 3, print: "about to crash ${nonce}" } }
`,
    );
    const run = startCli(['run', 'p.yaml', '--executor', 'slurm'], ws.dir);
    const m = await waitForManifest(ws, 'the victim job to run', (m) => m.instances['victim']?.job?.state === 'RUNNING');
    const jobId = m.instances['victim']!.job!.jobId;
    await execa('scancel', [jobId]);
    const r = await run;
    assert.is(r.exitCode, 1, String(r.stderr));
    const done = (await latestManifest(ws))!;
    assert.is(done.instances['victim']!.status, 'failed');
    assert.is(done.instances['victim']!.error, describeEnding(jobId, 'CANCELLED'));
    assert.match(done.instances['victim']!.error!, 'cancelled');
    assert.is(done.instances['victim']!.job!.state, 'CANCELLED');
    assert.is(done.instances['after']!.status, 'skipped');
    assert.is(done.instances['after']!.error, 'needs victim, which failed');
    assert.is(done.instances['other']!.status, 'succeeded');
    assert.is(done.instances['other_next']!.status, 'succeeded');
    assert.match(String(r.stdout), `victim failed: Slurm job ${jobId} was cancelled (CANCELLED)`);
    // A stage's own error reads as it does locally; a crash reads as the job's exit code.
    assert.is(done.instances['bad']!.error, `the data set is empty ${nonce}`);
    assert.is(done.instances['bad']!.job!.state, 'FAILED');
    assert.is(done.instances['crash']!.error, `${describeEnding(done.instances['crash']!.job!.jobId, 'FAILED', 'with exit code 3')}`);
    const crashLog = await readFile(join(ws.dir, 'runs', 'latest', 'stages', 'crash', 'log.txt'), 'utf8');
    assert.match(crashLog, `[stdout] about to crash ${nonce}`);
    assert.equal(await readdir(join(ws.dir, '.bdlab', 'tmp')), [], 'the cancelled job\'s partial outputs are discarded');
  } finally {
    await ws.cleanup();
  }
});

slurmTest('kill -9 of the head mid-run: the rerun adopts the running job, uses the result of the finished one, and runs no instance twice', async () => {
  const ws = await tempWorkspace('bdlab-slurm-kill-');
  try {
    await ws.write(
      'p.yaml',
      `name: slurm-kill
${POLL}stages:
  quick: { kind: test-files, params: { sleep_ms: 3000, write: { q.txt: "${nonce}" }, metrics: { q: 1 } } }
  slow: { kind: test-files, params: { sleep_ms: 15000, write: { s.txt: "${nonce}" }, metrics: { s: 1 } } }
  join: { kind: test-files, needs: [quick, slow], params: { metrics: { joined: 1 } } }
`,
    );
    const first = startCli(['run', 'p.yaml', '--executor', 'slurm'], ws.dir);
    const m = await waitForManifest(ws, 'both jobs to run', (m) => m.instances['quick']?.job?.state === 'RUNNING' && m.instances['slow']?.job?.state === 'RUNNING');
    first.kill('SIGKILL');
    assert.is(m.instances['quick']!.status, 'running');
    await first;
    const quickKey = m.instances['quick']!.cacheKey!;
    // Let the quick job finish while no head is watching.
    const quickResult = jobFilesOf(join(ws.dir, '.bdlab', 'scratch', quickKey)).result;
    for (let i = 0; i < 100 && !existsSync(quickResult); i++) await sleep(200);
    assert.ok(existsSync(quickResult), 'the quick job finished without its head');

    const again = await runCli(['run', 'p.yaml', '--executor', 'slurm'], ws.dir);
    assert.is(again.code, 0, again.stderr + again.stdout);
    const m2 = (await latestManifest(ws))!;
    assert.is(m2.instances['quick']!.job!.jobId, m.instances['quick']!.job!.jobId);
    assert.is(m2.instances['slow']!.job!.jobId, m.instances['slow']!.job!.jobId);
    assert.ok(m2.instances['quick']!.job!.adopted && m2.instances['slow']!.job!.adopted);
    assert.is(m2.instances['join']!.status, 'succeeded');
    assert.match(again.stdout, /slow running on \S+ \(Slurm job \d+, adopted from an earlier run\)/);
    const quickLog = await readFile(join(ws.dir, 'runs', 'latest', 'stages', 'quick', 'log.txt'), 'utf8');
    assert.match(quickLog, /\[bdlab\] adopting Slurm job \d+ \(COMPLETED\), submitted by an earlier run \(pid \d+/);
    // Slurm's own view: one job per instance, across both heads.
    const jobs = await jobsNamed('bdlab-');
    for (const [id, rec] of Object.entries(m2.instances)) {
      const name = `bdlab-${id}-${rec.cacheKey!.slice(0, 12)}`;
      assert.is(jobs.get(name)?.length, 1, `${name}: ${JSON.stringify(jobs.get(name))}`);
    }
  } finally {
    await ws.cleanup();
  }
});

slurmTest('Ctrl-C cancels the run\'s jobs and exits 130', async () => {
  const ws = await tempWorkspace('bdlab-slurm-sigint-');
  try {
    await ws.write(
      'p.yaml',
      `name: slurm-sigint\n${POLL}stages:\n  a: { kind: test-files, params: { sleep_ms: 120000, print: "${nonce}" } }\n  b: { kind: test-files, params: { sleep_ms: 120000, print: "b ${nonce}" } }\n  c: { kind: test-files, needs: [a, b] }\n`,
    );
    const run = startCli(['run', 'p.yaml', '--executor', 'slurm'], ws.dir);
    const m = await waitForManifest(ws, 'both jobs to run', (m) => m.instances['a']?.job?.state === 'RUNNING' && m.instances['b']?.job?.state === 'RUNNING');
    run.kill('SIGINT');
    const r = await run;
    assert.is(r.exitCode, 130, String(r.stderr));
    const ids = [m.instances['a']!.job!.jobId, m.instances['b']!.job!.jobId];
    const states = await execa('squeue', ['--noheader', '--states=all', `--jobs=${ids.join(',')}`, '--format=%T'], { reject: false });
    assert.equal(String(states.stdout).split('\n').map((s) => s.trim()).filter(Boolean), ['CANCELLED', 'CANCELLED']);
    const done = (await latestManifest(ws))!;
    assert.is(done.status, 'interrupted');
    assert.is(done.instances['a']!.status, 'interrupted');
    assert.is(done.instances['c']!.status, 'skipped');
  } finally {
    await ws.cleanup();
  }
});

slurmTest('without sbatch, or with the controller down: a clear error naming the cause, exit 2, nothing submitted', async () => {
  const ws = await tempWorkspace('bdlab-slurm-down-');
  try {
    await ws.write('p.yaml', `name: slurm-down\nstages:\n  down-${nonce}: { kind: test-files }\n`);
    // Not execaNode: it puts Node's own directory (where sbatch may live too) on PATH.
    const noSbatch = await execa(process.execPath, [CLI, 'run', 'p.yaml', '--executor', 'slurm'], { cwd: ws.dir, env: { PATH: join(ws.dir, 'no-such-dir') }, reject: false });
    assert.is(noSbatch.exitCode, 2, String(noSbatch.stdout));
    assert.match(String(noSbatch.stderr), 'bdlab: --executor slurm: sbatch is not on PATH');
    assert.match(String(noSbatch.stderr), 'nothing was submitted');

    // The same cluster, but the controller's port has nobody listening: a controller that is down.
    const conf = await readFile(process.env['SLURM_CONF'] ?? '/etc/slurm/slurm.conf', 'utf8');
    const downConf = await ws.write('down.conf', conf.replace(/^SlurmctldHost=.*$/m, (line) => `${line}\nSlurmctldPort=9`));
    const down = await runCli(['run', 'p.yaml', '--executor', 'slurm'], ws.dir, { SLURM_CONF: downConf });
    assert.is(down.code, 2);
    assert.match(down.stderr, /bdlab: --executor slurm: the Slurm controller does not answer \(scontrol ping: ".*DOWN.*"\)/);
    assert.not.match(down.stderr, /\n\s+at /, 'no stack trace');
    assert.not.ok(existsSync(join(ws.dir, 'runs')), 'no run directory');
    assert.not.ok(existsSync(join(ws.dir, '.bdlab', 'scratch')), 'no job files');
    assert.is((await jobsNamed(`bdlab-down-${nonce}-`)).size, 0);
  } finally {
    await ws.cleanup();
  }
});

slurmTest('a stage that runs past resources.time is reported as TIMEOUT', async () => {
  const r = await timeoutRun!;
  try {
    assert.is(r.exitCode, 1, String(r.stderr));
    const m = (await latestManifest(timeoutWs!))!;
    const rec = m.instances['forever']!;
    assert.is(rec.status, 'failed');
    assert.is(rec.job!.state, 'TIMEOUT');
    assert.is(rec.error, describeEnding(rec.job!.jobId, 'TIMEOUT', 'of 1:00'));
    assert.match(rec.error!, /^Slurm job \d+ hit its time limit of 1:00 \(TIMEOUT\)$/);
  } finally {
    await timeoutWs!.cleanup();
  }
});

test('every Slurm end state has a meaning, and only completion counts as success', () => {
  for (const [state, meaning] of Object.entries(SLURM_STATES)) {
    if (meaning.phase !== 'ended') continue;
    if (state === 'COMPLETED') assert.is(meaning.ending, 'completed');
    else {
      assert.is(meaning.ending, 'failed', state);
      assert.ok(meaning.describe, `${state} has a description`);
    }
  }
  assert.is(describeEnding('7', 'CANCELLED by 0'), 'Slurm job 7 was cancelled (CANCELLED)');
  assert.is(describeEnding('7', 'OUT_OF_MEMORY', 'of 4G'), 'Slurm job 7 exceeded its memory limit of 4G (OUT_OF_MEMORY)');
  assert.ok(SLURM_STATES['PREEMPTED']!.retry && SLURM_STATES['NODE_FAIL']!.retry);
  assert.not.ok(SLURM_STATES['TIMEOUT']!.retry);
  assert.is(SLURM_STATES['LOST']!.ending, 'failed', 'a job that vanished is never a success');
});

test.run();
