import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { packageRoot } from '../../src/common/paths.js';
import { deferredKernelCount, initEngine, setEngineThreads, setKernelDeferralEnabled } from '../../src/engine/index.js';
import { native, nativeTest } from '../helpers/native-test.js';
import { buildModel, type ModelName } from '../../src/ml/models/index.js';
import { trainModel } from '../../src/ml/train.js';
import { colourSet, COLOUR_SET_SIDE } from '../helpers/colour-set.js';

/** Training with the native kernels on 2 threads: the same loss curve as on 1, steady memory, clean exits. */

test.before(async () => {
  await initEngine('wasm');
});

test.after(() => {
  setEngineThreads(1);
});

async function lossCurve(model: ModelName, width: number, threads: number, epochs: number, onEpoch?: () => void): Promise<number[]> {
  setEngineThreads(threads);
  const net = buildModel(model, { width, numClasses: 3, inputShape: [COLOUR_SET_SIDE, COLOUR_SET_SIDE, 3], seed: 3 });
  try {
    const history = await trainModel(net, colourSet(64, 5, 30), { epochs, batchSize: 16, optimizer: 'adam', learningRate: 0.01, seed: 4, ...(onEpoch ? { onEpoch } : {}) });
    return history.epochs.map((r) => r.loss);
  } finally {
    net.dispose();
  }
}

nativeTest('a short training at 2 threads follows the loss curve of 1 thread (ResNet34 with batch norm down to 1x1 images; the pooling CNN)', async () => {
  for (const [model, width] of [['resnet34', 0.125], ['cnn', 0.25]] as [ModelName, number][]) {
    const one = await lossCurve(model, width, 1, 4);
    const two = await lossCurve(model, width, 2, 4);
    // Every filter gradient deferred (these are smaller than MIN_DEFERRED_MACS): still the same bits.
    const deferredBefore = deferredKernelCount();
    setKernelDeferralEnabled(true, 0);
    const again = await lossCurve(model, width, 2, 4).finally(() => setKernelDeferralEnabled(true));
    assert.ok(deferredKernelCount() > deferredBefore, `${model}: no kernel was deferred at 2 threads`);
    assert.equal(again, two, `${model}: two runs at 2 threads differ`);
    assert.ok(one[3]! < one[0]!, `${model} did not learn: ${one}`);
    // Every native kernel gives the same bits at any thread count, so the whole curve does too.
    assert.equal(two, one, `${model}: loss per epoch at 2 threads vs 1`);
  }
});

nativeTest('at 2 threads, tensors and resident memory stay flat over epochs', async () => {
  const tensors: number[] = [];
  const rss: number[] = [];
  await lossCurve('resnet34', 0.125, 2, 8, () => {
    tensors.push(tf.memory().numTensors);
    rss.push(process.memoryUsage().rss);
  });
  assert.ok(tensors.every((n) => n === tensors[1]), `numTensors per epoch: ${tensors}`);
  // From the third epoch on, buffers (the pool's, the wasm heap) have reached their size.
  const growth = (rss[7]! - rss[2]!) / 2 ** 20;
  assert.ok(growth < 24, `RSS grew by ${growth.toFixed(1)} MB from epoch 3 to 8: ${rss.map((b) => (b / 2 ** 20).toFixed(0))}`);
});

/** Runs `script` in a child node that has loaded the engine at 2 threads; resolves with its exit and how long it took. */
function child(script: string, onLine: (line: string, kill: (signal: NodeJS.Signals) => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const engine = join(packageRoot(), 'dist', 'src', 'engine', 'index.js');
  const source = `const tf = await import('@tensorflow/tfjs'); const { initEngine } = await import(${JSON.stringify(engine)});\nawait initEngine('wasm');\n${script}`;
  const started = Date.now();
  const proc = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: packageRoot(), env: { ...process.env, BDLAB_THREADS: '2' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffered = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) onLine(line, (signal) => proc.kill(signal));
  });
  return new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - started })));
}

// Convolutions of a few tenths of a second each, back to back: a signal or an exit lands during one.
const BUSY = `const x = tf.randomUniform([64, 32, 32, 64]), w = tf.randomUniform([3, 3, 64, 64]);
console.log('busy');
for (;;) tf.tidy(() => { tf.conv2d(x, w, 1, 'same').dataSync(); });`;

nativeTest('a process killed or exiting while a 2-thread kernel runs ends promptly (no hang joining the pool)', async () => {
  const term = await child(BUSY, (line, kill) => { if (line === 'busy') setTimeout(() => kill('SIGTERM'), 300); });
  assert.is(term.signal, 'SIGTERM');
  const kill = await child(BUSY, (line, killIt) => { if (line === 'busy') setTimeout(() => killIt('SIGKILL'), 300); });
  assert.is(kill.signal, 'SIGKILL');
  // process.exit from JavaScript runs between kernels; the cleanup hook then joins the parked workers.
  const exited = await child(`setTimeout(() => process.exit(3), 200);\n${BUSY.replace('for (;;)', 'for (let i = 0; i < 1000; i++) await new Promise((r) => setImmediate(r)),')}`, () => undefined);
  assert.is(exited.code, 3);
  // A handler that exits on SIGTERM, as the stage child's runner would.
  const handled = await child(`process.on('SIGTERM', () => process.exit(4));\n${BUSY.replace('for (;;)', 'for (;;) await new Promise((r) => setImmediate(r)),')}`, (line, killIt) => {
    if (line === 'busy') setTimeout(() => killIt('SIGTERM'), 300);
  });
  assert.is(handled.code, 4);
  // Exiting with 40 deferred filter gradients queued (~2 s of work at 2 threads): the queue is dropped.
  const queued = await child(`const x = tf.randomUniform([64, 32, 32, 64]), dy = tf.randomUniform([64, 32, 32, 128]);
for (let i = 0; i < 40; i++) tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, filterShape: [3, 3, 64, 128] });
process.exit(5);`, () => undefined);
  assert.is(queued.code, 5);
  for (const r of [term, kill, exited, handled, queued]) assert.ok(r.ms < 60_000, `took ${r.ms} ms`);
  console.log(`  exits took ${[term, kill, exited, handled, queued].map((r) => r.ms).join(', ')} ms`);
});

test.run();
