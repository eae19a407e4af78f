import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI, runCli, tempWorkspace, type TempWorkspace } from '../executor/helpers.js';

/**
 * Version A of a pipeline: `prep` over rates 0 and 0.1, `score` reporting metrics from its params
 * (test-files returns `params.metrics` as its metrics), and `old`, which B drops.
 */
const VERSION_A = `name: exp
stages:
  prep:
    kind: test-files
    matrix: { rate: [0, 0.1] }
    params: { write: { r.txt: "r\${{ matrix.rate }}" } }
  score:
    kind: test-files
    needs: [prep]
    params: { metrics: { cleanAccuracy: 0.6, targetedSuccessRate: "\${{ matrix.rate }}" } }
  old: { kind: test-files, params: { write: { o.txt: o } } }
`;
/** B: one more rate, a changed param of score (its metric), no `old`. */
const VERSION_B = VERSION_A.replace('rate: [0, 0.1]', 'rate: [0, 0.1, 0.2]').replace('cleanAccuracy: 0.6', 'cleanAccuracy: 0.65').replace(/ {2}old: .*\n/, '');

async function git(ws: TempWorkspace, ...args: string[]): Promise<string> {
  const r = await execa('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=test', ...args], { cwd: ws.dir });
  return r.stdout;
}

/** A repository with A committed and run in full, then B committed and only score[rate=0] run. */
async function repository(): Promise<TempWorkspace> {
  const ws = await tempWorkspace('bdlab-diff-');
  await git(ws, 'init', '-q');
  await ws.write('.gitignore', 'runs/\n.bdlab/\n*@*.yaml\n');
  await ws.write('exp.yaml', VERSION_A);
  await git(ws, 'add', '.');
  await git(ws, 'commit', '-qm', 'A');
  const a = await runCli(['run', 'exp.yaml'], ws.dir);
  assert.is(a.code, 0, a.stderr);
  await ws.write('exp.yaml', VERSION_B);
  await git(ws, 'commit', '-qam', 'B');
  const b = await runCli(['run', 'exp.yaml', '--only', 'score[rate=0]'], ws.dir);
  assert.is(b.code, 0, b.stderr);
  return ws;
}

/** Rows of one section of `bdlab diff` text output, cells split at runs of two or more spaces. */
function section(stdout: string, title: string): string[][] {
  const block = stdout.split('\n\n').find((b) => b.startsWith(title));
  assert.ok(block, `section ${title} in:\n${stdout}`);
  return block!.split('\n').slice(1).map((line) => line.trim().split(/ {2,}/));
}

test('diff HEAD~1 HEAD FILE: added and removed instances, changed params, metric deltas, "not run" with its command', async () => {
  const ws = await repository();
  try {
    const r = await runCli(['diff', 'HEAD~1', 'HEAD', 'exp.yaml', '--stage', 'score'], ws.dir);
    assert.is(r.code, 0, r.stderr);
    const [headA, headB] = r.stdout.split('\n');
    assert.match(headA!, /^A: HEAD~1: exp \(exp\.yaml at git [0-9a-f]{10}\), 5 instances, 5 with results$/);
    assert.match(headB!, /^B: HEAD: exp \(exp\.yaml at git [0-9a-f]{10}\), 6 instances, 3 with results$/);
    assert.match(r.stdout, 'Instances: 2 added, 1 removed, 2 with changed params, 0 changed through their inputs');
    assert.equal(section(r.stdout, 'Instances'), [
      ['change', 'instance', 'kind'],
      ['added', 'prep[rate=0.2]', 'test-files'],
      ['params', 'score[rate=0]', 'test-files'],
      ['params', 'score[rate=0.1]', 'test-files'],
      ['added', 'score[rate=0.2]', 'test-files'],
      ['removed', 'old', 'test-files'],
    ]);
    assert.equal(section(r.stdout, 'Params'), [
      ['instance', 'param', 'A', 'B'],
      ['score[rate=0]', 'metrics.cleanAccuracy', '0.6', '0.65'],
      ['score[rate=0.1]', 'metrics.cleanAccuracy', '0.6', '0.65'],
    ]);
    assert.equal(section(r.stdout, 'Metrics'), [
      ['instance', 'metric', 'A', 'B', 'change'],
      ['score[rate=0]', 'clean accuracy', '60.00 %', '65.00 %', '+5.00 pp'],
      ['score[rate=0]', 'targeted success', '0.00 %', '0.00 %', '±0.00 pp'],
      ['score[rate=0.1]', 'clean accuracy', '60.00 %', 'not run', '–'],
      ['score[rate=0.1]', 'targeted success', '10.00 %', 'not run', '–'],
      ['score[rate=0.2]', '–', '–', 'not run', '–'],
    ]);
    assert.match(r.stdout, "  B: bdlab run exp.yaml --only 'score[rate=0.1]' 'score[rate=0.2]'");
    assert.not.match(r.stdout, '  A: ');
    // The revision was read, not checked out: the working tree is as B left it.
    assert.is(await readFile(join(ws.dir, 'exp.yaml'), 'utf8'), VERSION_B);
    assert.is(await git(ws, 'status', '--porcelain'), '');

    const json = JSON.parse((await runCli(['diff', 'HEAD~1', 'HEAD', 'exp.yaml', '--stage', 'score', '--format', 'json'], ws.dir)).stdout) as {
      metrics: Record<string, unknown>[];
      notRun: { side: string; ids: string[] }[];
    };
    assert.equal(json.metrics[0], { instance: 'score[rate=0]', metric: 'clean accuracy', A: 0.6, B: 0.65, change: '+5.00 pp', unit: 'rate' });
    assert.equal(json.notRun.map((n) => [n.side, n.ids]), [['B', ['score[rate=0.1]', 'score[rate=0.2]']]]);
  } finally {
    await ws.cleanup();
  }
});

test('diff: the printed command for an older revision runs exactly what was missing; runs diff too', async () => {
  const ws = await repository();
  try {
    // An empty cache: nothing of A has results, so A's command must first write A's file.
    const empty = await runCli(['diff', 'HEAD~1', 'exp.yaml', '--stage', 'score', '--cache-dir', 'empty-cache'], ws.dir);
    assert.is(empty.code, 0, empty.stderr);
    const command = /^ {2}A: (.+)$/m.exec(empty.stdout)?.[1];
    assert.ok(command, empty.stdout);
    assert.match(command!, /^git show [0-9a-f]{12}:exp\.yaml > exp@HEAD~1\.yaml && bdlab run exp@HEAD~1\.yaml --only 'score\[rate=0\]' 'score\[rate=0\.1\]'$/);
    const ran = await execa('sh', ['-c', command!.replace('bdlab run', `"${process.execPath}" "${CLI}" run`) + ' --cache-dir empty-cache'], { cwd: ws.dir, reject: false });
    assert.is(ran.exitCode, 0, String(ran.stderr));
    const after = await runCli(['diff', 'HEAD~1', 'exp.yaml', '--stage', 'score', '--cache-dir', 'empty-cache'], ws.dir);
    assert.ok(section(after.stdout, 'Metrics').some((row) => row[0] === 'score[rate=0.1]' && row[2] === '10.00 %'), after.stdout);
    assert.not.match(after.stdout, '  A: ');

    // Two runs: the first (A in full) against the second (B, one instance); the third ran the command above.
    const runs = (await runCli(['runs'], ws.dir)).stdout.split('\n').slice(1).map((l) => l.split(' ')[0]!);
    const between = await runCli(['diff', runs[0]!, runs[1]!, '--stage', 'score'], ws.dir);
    assert.is(between.code, 0, between.stderr);
    assert.match(between.stdout, `A: run ${runs[0]}: exp (exp.yaml`);
    assert.ok(section(between.stdout, 'Metrics').some((r) => r.join('|') === 'score[rate=0]|clean accuracy|60.00 %|65.00 %|+5.00 pp'), between.stdout);
    assert.match(between.stdout, new RegExp(`B: bdlab run runs/${runs[1]}/pipeline\\.yaml --only 'score\\[rate=0\\.1\\]' 'score\\[rate=0\\.2\\]'`));

    const bad = await runCli(['diff', 'nope', 'HEAD', 'exp.yaml'], ws.dir);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, '"nope" is neither a run (see "bdlab runs") nor a git revision');
    const missingFile = await runCli(['diff', 'HEAD~1', 'HEAD', 'other.yaml'], ws.dir);
    assert.is(missingFile.code, 2);
    assert.match(missingFile.stderr, 'other.yaml does not exist at git revision "HEAD~1"');
  } finally {
    await ws.cleanup();
  }
});

test.run();
