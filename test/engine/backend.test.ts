import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine, parseBackendPreference } from '../../src/engine/index.js';

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

test('parseBackendPreference accepts the four names, defaults to auto, and lists them when wrong', () => {
  assert.is(parseBackendPreference(undefined), 'auto');
  assert.is(parseBackendPreference(''), 'auto');
  assert.is(parseBackendPreference('WASM'), 'wasm');
  assert.is(parseBackendPreference(' cpu '), 'cpu');
  assert.is(parseBackendPreference('node'), 'node');
  assert.throws(() => parseBackendPreference('gpu'), (e: Error) => /Unknown TF\.js backend "gpu"/.test(e.message) && /auto/.test(e.message) && /node/.test(e.message) && /wasm/.test(e.message) && /cpu/.test(e.message));
});

test('wasm selection is idempotent and reports versions, threads and our kernels', async () => {
  const info = await initEngine('wasm');
  assert.is(info.name, 'wasm');
  assert.is(tf.getBackend(), 'wasm');
  assert.is(info.versions['tfjs-backend-wasm'], '4.22.0');
  assert.is(info.versions['tfjs-core'], '4.22.0');
  assert.ok(info.threads >= 1);
  for (const k of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul', 'Tile', 'MaxPoolGrad']) assert.ok(info.customKernels.includes(k), `missing ${k}`);
  assert.is(await initEngine('wasm'), info);
});

test('cpu selection installs the CPU overrides; auto prefers tfjs-node, else wasm', async () => {
  const cpu = await initEngine('cpu');
  assert.is(cpu.name, 'cpu');
  assert.equal(cpu.customKernels, ['Conv2DBackpropFilter', 'MaxPoolGrad']);
  const auto = await initEngine('auto');
  assert.is(auto.preference, 'auto');
  assert.is(auto.name, tfjsNodeInstalled() ? 'tensorflow' : 'wasm');
  assert.is(tf.getBackend(), auto.name);
});

test('forcing node without tfjs-node fails with a clear message', async () => {
  if (tfjsNodeInstalled()) return;
  try {
    await initEngine('node');
    assert.unreachable('initEngine(node) should fail without @tensorflow/tfjs-node');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, /@tensorflow\/tfjs-node/);
    assert.match(message, /--backend auto or wasm/);
  }
});

test('the CPU backend runs without printing TF.js\'s "install tfjs-node" banner', () => {
  const fixture = fileURLToPath(new URL('./fixtures/cpu-banner.js', import.meta.url));
  const child = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 60_000 });
  assert.is(child.status, 0, child.stderr);
  assert.equal(JSON.parse(child.stdout.trim()), { name: 'cpu', sum: [4, 6] });
  assert.not.match(child.stdout + child.stderr, /looks like you are running TensorFlow\.js in Node/);
});

test.run();
