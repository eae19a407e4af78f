import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine, setEngineThreads } from '../../src/engine/index.js';
import { deferredKernelCount, MIN_DEFERRED_MACS, pendingDeferredKernels, setKernelDeferralEnabled, waitForDeferredKernels } from '../../src/engine/kernels/deferred.js';
import { nativeTest } from '../helpers/native-test.js';
import { random } from './reference.js';

/**
 * Deferred filter gradients (src/engine/kernels/deferred.ts): at N > 1 threads Conv2DBackpropFilter
 * returns at once and a pool thread computes the gradient while JavaScript goes on. Whatever touches
 * the result (a kernel, a read, a dispose) must see the finished gradient, with the bits of the
 * kernel run in place, and the inputs must stay alive while the task reads them, even when TF.js
 * disposes them first.
 */

const ATTRS = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined as unknown as string };

function filterGradient(x: tf.Tensor, dy: tf.Tensor, filterShape: number[]): tf.Tensor {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...ATTRS, filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** Inputs of a filter gradient big enough (~2-5 GMAC) that its task is still running when the test goes on. */
function inputs(batch: number, channels: number, outChannels: number): { x: tf.Tensor; dy: tf.Tensor; filterShape: number[] } {
  const x = random([batch, 32, 32, channels]);
  const dy = random([batch, 32, 32, outChannels]);
  return { x: tf.tensor(x.values, x.shape), dy: tf.tensor(dy.values, dy.shape), filterShape: [3, 3, channels, outChannels] };
}

function bits(t: tf.Tensor): Uint32Array {
  return new Uint32Array((t.dataSync() as Float32Array).slice().buffer);
}

/** Asserts equal bits, reporting how many elements differ (uvu's diff of long arrays takes minutes). */
function assertSameBits(actual: Uint32Array, expected: Uint32Array, what: string): void {
  let differing = 0;
  for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) differing++;
  assert.ok(actual.length === expected.length && differing === 0, `${what}: ${differing} of ${expected.length} elements differ`);
}

/** The gradient computed in place (deferral off) at one thread: the reference every deferred result must equal bit for bit. */
function inPlace(x: tf.Tensor, dy: tf.Tensor, filterShape: number[]): Uint32Array {
  setEngineThreads(1);
  setKernelDeferralEnabled(false);
  try {
    const dw = filterGradient(x, dy, filterShape);
    const result = bits(dw);
    dw.dispose();
    return result;
  } finally {
    setKernelDeferralEnabled(true);
  }
}

test.before(async () => {
  await initEngine('wasm');
});

test.after(() => {
  setKernelDeferralEnabled(true);
  setEngineThreads(1);
});

nativeTest('at 2, 3 and 7 threads a filter gradient is deferred, and reading it gives the bits of the kernel run in place', () => {
  const { x, dy, filterShape } = inputs(16, 32, 32);
  const reference = inPlace(x, dy, filterShape);
  for (const threads of [2, 3, 7]) {
    setEngineThreads(threads);
    const before = deferredKernelCount();
    const dw = filterGradient(x, dy, filterShape);
    assert.is(deferredKernelCount(), before + 1, `${threads} threads: not deferred`);
    assert.is(pendingDeferredKernels(), 1);
    assertSameBits(bits(dw), reference, `${threads} threads: the deferred gradient vs the in-place one`);
    assert.is(pendingDeferredKernels(), 0, 'reading the output did not settle the task');
    dw.dispose();
  }
  // At one thread there is no idle thread to hand it to: the kernel runs in place.
  setEngineThreads(1);
  const before = deferredKernelCount();
  const dw = filterGradient(x, dy, filterShape);
  assert.is(deferredKernelCount(), before);
  assertSameBits(bits(dw), reference, '1 thread');
  tf.dispose([dw, x, dy]);
});

nativeTest('inputs disposed by TF.js while their gradient is pending stay alive until it is done; nothing leaks', () => {
  setEngineThreads(2);
  const baseline = tf.memory();
  const { x, dy, filterShape } = inputs(32, 64, 64);
  const reference = inPlace(x, dy, filterShape);
  setEngineThreads(2);
  const gradients = [filterGradient(x, dy, filterShape), filterGradient(x, dy, filterShape), filterGradient(x, dy, filterShape)];
  // TF.js frees a tensor's memory when its last reference goes: here while three tasks still read it.
  x.dispose();
  dy.dispose();
  // Another kernel reading a pending output waits for it; so does a read.
  const doubled = tf.mul(gradients[1]!, 2);
  assertSameBits(bits(gradients[0]!), reference, 'a gradient whose inputs were disposed');
  const expected = tf.tidy(() => tf.mul(tf.tensor(new Float32Array(new Uint32Array(reference).buffer), filterShape), 2));
  assertSameBits(bits(doubled), bits(expected), 'a kernel reading a pending gradient');
  expected.dispose();
  // Disposing a pending output waits before its memory is freed.
  const more = inputs(32, 64, 64);
  const unread = filterGradient(more.x, more.dy, more.filterShape);
  tf.dispose([unread, more.x, more.dy, ...gradients, doubled]);
  waitForDeferredKernels();
  assert.is(pendingDeferredKernels(), 0);
  const after = tf.memory();
  assert.is(after.numTensors, baseline.numTensors, 'tensors left behind');
  assert.is(after.numDataBuffers, baseline.numDataBuffers, 'data buffers left behind (the held inputs were not released)');
  assert.is(after.numBytes, baseline.numBytes);
});

nativeTest('the wasm heap growing while deferred gradients run does not disturb them', () => {
  const fixture = fileURLToPath(new URL('./fixtures/deferred-heap-growth.js', import.meta.url));
  const child = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 120_000 });
  assert.is(child.status, 0, `fixture failed: ${child.stderr}`);
  const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as { grew: boolean; pendingWhenGrown: boolean; differing: number };
  assert.ok(result.grew, 'the heap did not grow');
  assert.ok(result.pendingWhenGrown, 'every task finished before the heap grew, so the case no longer tests growth during a task');
  assert.is(result.differing, 0, 'elements of the gradients computed while the heap grew differ from the in-place gradient');
});

test.run();
