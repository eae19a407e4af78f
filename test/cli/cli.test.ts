import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, runMain, tempWorkspace } from '../executor/helpers.js';

const NO_STACK = /^\s+at .+:\d+:\d+\)?$/m;

test('help, unknown command, missing argument', async () => {
  const ws = await tempWorkspace('bdlab-cli-');
  try {
    const help = await runCli(['--help'], ws.dir);
    assert.is(help.code, 0);
    for (const name of ['run', 'validate', 'plan', 'runs', 'show', 'gc']) assert.match(help.stdout, new RegExp(`^  ${name} `, 'm'));
    const runHelp = await runMain(['run', '--help'], ws.dir);
    assert.is(runHelp.code, 0);
    assert.match(runHelp.stdout, '--fail-fast');
    const unknown = await runMain(['frobnicate'], ws.dir);
    assert.is(unknown.code, 2);
    assert.match(unknown.stderr, 'unknown command "frobnicate"');
    const missing = await runCli(['run', '--jobs', 'two', 'x.yaml'], ws.dir);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, '--jobs two: expected a whole number >= 1');
    assert.not.match(missing.stderr, NO_STACK);
    // A run's command line given to plan: exit 2, pointing at run's dry run (also for run's short -j).
    for (const option of ['--jobs', '-j', '--data-path']) {
      const planned = await runMain(['plan', 'x.yaml', option, '2'], ws.dir);
      assert.is(planned.code, 2, option);
      const long = option === '-j' ? '--jobs' : option;
      assert.match(planned.stderr, `Unknown option '${option}'. ${long} is an option of bdlab run; to plan a run's command line as it is, use "bdlab run FILE ... --dry-run"`);
    }
    const bogus = await runMain(['plan', 'x.yaml', '--bogus'], ws.dir);
    assert.is(bogus.code, 2);
    assert.match(bogus.stderr, "Unknown option '--bogus'");
    assert.not.match(bogus.stderr, 'bdlab run');
  } finally {
    await ws.cleanup();
  }
});

test('invalid pipeline: exit 2, file:line:col diagnostics, no stack trace; validate and plan', async () => {
  const ws = await tempWorkspace('bdlab-cli-');
  try {
    await ws.write('bad.yaml', 'name: bad\nstages:\n  a:\n    kind: test-files\n    params: { sleep_ms: -5 }\n');
    const good = `name: good\nsettings: { backend: wasm }\nstages:\n  a: { kind: test-files, params: { write: { a.txt: a } } }\n  b: { kind: test-files, needs: [a], params: { context_file: ctx.json } }\n`;
    await ws.write('good.yaml', good);
    const run = await runCli(['run', 'bad.yaml'], ws.dir);
    assert.is(run.code, 2);
    assert.match(run.stderr, /bad\.yaml:5:\d+: error: /);
    assert.match(run.stderr, 'stages.a.params.sleep_ms');
    assert.not.match(run.stderr, NO_STACK);
    assert.is(run.stdout, '');

    const validate = await runMain(['validate', 'good.yaml', 'bad.yaml'], ws.dir);
    assert.is(validate.code, 2);
    assert.match(validate.stdout, 'good.yaml: ok (2 stage(s), 2 instance(s))');
    assert.match(validate.stderr, /bad\.yaml:5:\d+/);
    assert.is((await runMain(['validate', 'good.yaml'], ws.dir)).code, 0);

    const plan = await runMain(['plan', 'good.yaml'], ws.dir);
    assert.is(plan.code, 0);
    assert.match(plan.stdout, 'plan good: 2 instance(s), 0 cached, 2 will run');
    assert.match(plan.stdout, /^\s+1\s+will run\s+[0-9a-f]{10}\s+test-files\s+a$/m);
    assert.match(plan.stdout, /^\s+2\s+will run\s+\?\s+test-files\s+b$/m, 'downstream key unknown until a has run');

    const ran = await runCli(['run', 'good.yaml', '--backend', 'cpu', '--data-path', 'datasets', '--threads', '1'], ws.dir);
    assert.is(ran.code, 0, ran.stderr);
    const seen = JSON.parse(await readFile(join(ws.dir, 'runs', 'latest', 'stages', 'b', 'outputs', 'ctx.json'), 'utf8')) as unknown;
    assert.equal(seen, { id: 'b', backend: 'cpu', dataPath: [join(ws.dir, 'datasets')], inputs: ['a'], threads: '1' }, '--backend beats settings.backend; --data-path is absolute');
    assert.match(ran.stdout, /^✓ \[1\/2\] a \(/m);
    assert.match(ran.stdout, 'bdlab: run succeeded: 2 succeeded, 0 cached');
    const after = await runMain(['run', 'good.yaml', '--dry-run'], ws.dir);
    assert.match(after.stdout, 'plan good: 2 instance(s), 2 cached, 0 will run');
    assert.match(after.stdout, /^\s+2\s+cached\s+[0-9a-f]{10}\s+test-files\s+b$/m);
    const only = await runMain(['run', 'good.yaml', '--only', 'nope'], ws.dir);
    assert.is(only.code, 2);
    assert.match(only.stderr, '--only nope: no stage or instance of that name');
  } finally {
    await ws.cleanup();
  }
});

test('a failed stage gives exit 1; runs and show summarize runs and metrics', async () => {
  const ws = await tempWorkspace('bdlab-cli-');
  try {
    await ws.write(
      'p.yaml',
      `name: mixed
stages:
  ev:
    kind: test-files
    matrix: { rate: [0.1, 0.5] }
    params: { metrics: { clean_accuracy: 0.875, targeted: { success_rate: "\${{ matrix.rate }}" } } }
  broken: { kind: test-files, params: { fail: "no such model: lenet6" } }
  after: { kind: test-files, needs: [broken] }
`,
    );
    const r = await runCli(['run', 'p.yaml', '--jobs', '2'], ws.dir);
    assert.is(r.code, 1);
    assert.match(r.stdout, '✗ ');
    assert.match(r.stdout, 'broken failed: no such model: lenet6');
    assert.match(r.stdout, '- after skipped: needs broken, which failed');
    assert.match(r.stderr, '1 instance(s) failed: broken');
    assert.not.match(r.stderr, NO_STACK);

    const runs = await runMain(['runs'], ws.dir);
    assert.match(runs.stdout, /\d{8}T\d{6}Z-mixed-[0-9a-f]{8}\s+failed\s+2 ran, 0 cached, 1 failed, 1 skipped/);
    const show = await runMain(['show', 'latest'], ws.dir);
    assert.is(show.code, 0);
    assert.match(show.stdout, /^status\s+failed$/m);
    assert.match(show.stdout, /^broken\s+failed\s+.*no such model: lenet6$/m);
    assert.match(show.stdout, /^instance\s+clean_accuracy\s+targeted\.success_rate$/m);
    assert.match(show.stdout, /^ev\[rate=0\.5\]\s+0\.8750\s+0\.5000$/m);
    assert.is((await runMain(['show', 'nonexistent'], ws.dir)).code, 2);
  } finally {
    await ws.cleanup();
  }
});

test('gc removes entries only older runs refer to, and reports freed bytes', async () => {
  const ws = await tempWorkspace('bdlab-cli-');
  try {
    const v1 = `name: g\nstages:\n  a: { kind: test-files, params: { write: { a.txt: "version one" } } }\n  b: { kind: test-files, params: { write: { b.txt: "stays" } } }\n`;
    await ws.write('p.yaml', v1);
    assert.is((await runMain(['run', 'p.yaml'], ws.dir)).code, 0);
    await ws.write('p.yaml', v1.replace('version one', 'version two'));
    assert.is((await runMain(['run', 'p.yaml'], ws.dir)).code, 0);

    const keepAll = await runMain(['gc'], ws.dir);
    assert.match(keepAll.stdout, 'gc: removed 0 cache entries, 0 run(s)');
    const dry = await runMain(['gc', '--keep', '1', '--dry-run'], ws.dir);
    assert.match(dry.stdout, /would remove run \d{8}T\d{6}Z-g-/);
    assert.match(dry.stdout, 'gc: would remove 1 cache entry, 1 run(s)');
    const gc = await runMain(['gc', '--keep', '1'], ws.dir);
    assert.is(gc.code, 0);
    assert.match(gc.stdout, /gc: removed 1 cache entry, 1 run\(s\), 0 temp dir\(s\); kept 2 entries of 1 run\(s\); freed (\d+) bytes/);
    const freed = Number(/freed (\d+) bytes/.exec(gc.stdout)![1]);
    assert.ok(freed >= 'version one'.length, `freed ${freed}`);
    const plan = await runMain(['plan', 'p.yaml'], ws.dir);
    assert.match(plan.stdout, '2 cached, 0 will run');
    const runsList = await readFile(join(ws.dir, 'runs', 'latest', 'manifest.json'), 'utf8');
    assert.match(runsList, '"status": "succeeded"');
  } finally {
    await ws.cleanup();
  }
});

test.run();
