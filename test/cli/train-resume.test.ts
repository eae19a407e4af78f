import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execaNode } from 'execa';
import { CLI, runCli, tempWorkspace } from '../executor/helpers.js';

/**
 * The acceptance test of resumable training through the real CLI: the whole process group (runner
 * and stage child) is killed with SIGKILL after epoch 2 of 4, the run is started again, and the
 * trained model must be bit-identical to one from an uninterrupted run. Adam with augmentation and
 * a cosine schedule, and SGD with momentum without either (test/ml/train.test.ts covers all four
 * combinations in-process).
 */
const PIPELINE = `name: resume
stages:
  data: { kind: fetch, params: { dataset: synthetic, synthetic: { train: 1024, test: 16, seed: 3 } } }
  adam:
    kind: train
    needs: [data]
    params: { model: lenet5, epochs: 4, batch_size: 16, optimizer: adam, learning_rate: 0.001, seed: 5,
              augment: { crop_padding: 2, flip: true }, schedule: { type: cosine } }
  sgd:
    kind: train
    needs: [data]
    params: { model: lenet5, epochs: 4, batch_size: 16, optimizer: sgd, momentum: 0.9, learning_rate: 0.01, seed: 5 }
`;

/** Runs the CLI in its own process group and kills the whole group once stdout matches `at`. */
async function killGroupAt(dir: string, at: RegExp): Promise<string> {
  const proc = execaNode(CLI, ['run', 'p.yaml', '--verbose'], { cwd: dir, reject: false, stdin: 'ignore', detached: true, env: { BDLAB_DATA_PATH: '', BDLAB_BACKEND: '' } });
  let out = '';
  let killed = false;
  proc.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (!killed && at.test(out)) {
      killed = true;
      process.kill(-proc.pid!, 'SIGKILL');
    }
  });
  const r = await proc;
  assert.ok(killed, `never reached ${at}:\n${out}\n${String(r.stderr)}`);
  return out;
}

async function digest(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

async function trained(dir: string, id: string): Promise<{ weights: string; history: string; metrics: Record<string, unknown> }> {
  const stage = join(dir, 'runs', 'latest', 'stages', id);
  const metrics = JSON.parse(await readFile(join(stage, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  // Timing differs between any two runs; it is in the metrics, never in the outputs.
  delete metrics['imagesPerSecond'];
  delete metrics['trainSeconds'];
  return { weights: await digest(join(stage, 'outputs', 'model', 'weights.bin')), history: await readFile(join(stage, 'outputs', 'history.json'), 'utf8'), metrics };
}

test('a training killed with SIGKILL after epoch 2 of 4 and resumed gives bit-identical weights (Adam, SGD with momentum)', async () => {
  const reference = await tempWorkspace('bdlab-resume-ref-');
  const killed = await tempWorkspace('bdlab-resume-kill-');
  try {
    await reference.write('p.yaml', PIPELINE);
    await killed.write('p.yaml', PIPELINE);
    const uninterrupted = runCli(['run', 'p.yaml'], reference.dir);

    await killGroupAt(killed.dir, /adam \| epoch 2:/);
    const second = await killGroupAt(killed.dir, /sgd \| epoch 2:/);
    const adamResumedAt = Number(/adam \| resuming from checkpoint after epoch (\d)/.exec(second)?.[1]);
    assert.ok(adamResumedAt >= 2 && adamResumedAt < 4, `adam resumed after epoch ${adamResumedAt}:\n${second}`);
    const last = await runCli(['run', 'p.yaml', '--verbose'], killed.dir);
    assert.is(last.code, 0, last.stdout + last.stderr);
    const sgdResumedAt = Number(/sgd \| resuming from checkpoint after epoch (\d)/.exec(last.stdout)?.[1]);
    assert.ok(sgdResumedAt >= 2 && sgdResumedAt < 4, `sgd resumed after epoch ${sgdResumedAt}:\n${last.stdout}`);
    assert.match(last.stdout, /✓ \[\d\/3\] adam \(cached\)/);

    const ref = await uninterrupted;
    assert.is(ref.code, 0, ref.stdout + ref.stderr);
    for (const id of ['adam', 'sgd']) {
      const a = await trained(reference.dir, id);
      const b = await trained(killed.dir, id);
      assert.is(b.weights, a.weights, `${id}: weights.bin differs from the uninterrupted run's`);
      assert.is(b.history, a.history, `${id}: history.json differs`);
      assert.equal(b.metrics, a.metrics, `${id}: metrics differ`);
    }
  } finally {
    await reference.cleanup();
    await killed.cleanup();
  }
});

test.run();
