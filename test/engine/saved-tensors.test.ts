import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/engine/index.js';
import { profileKernels } from '../../src/engine/profile.js';
import { shareSavedTensors } from '../../src/engine/saved-tensors.js';
import { buildModel } from '../../src/ml/models/index.js';

/** Saved tensors share their buffers instead of going through TF.js' Identity clone: same gradients, no clones, nothing leaked. */

test.before(async () => {
  await initEngine('wasm');
});

test.after(() => {
  shareSavedTensors(true);
});

/** Gradients of a batch-normalized CNN's loss with respect to every trainable weight, as bits, and the Identity calls made. */
async function gradientBits(share: boolean): Promise<{ bits: number[]; identityCalls: number; leftBehind: number }> {
  shareSavedTensors(share);
  const model = buildModel('cnn', { width: 0.25, numClasses: 3, inputShape: [16, 16, 3], seed: 7 });
  const x = tf.randomUniform([8, 16, 16, 3], 0, 1, 'float32', 8);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
  const tensors = tf.memory().numTensors;
  try {
    let bits: number[] = [];
    const timings = await profileKernels(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      bits = Object.keys(grads).sort().flatMap((name) => Array.from(new Uint32Array((grads[name]!.dataSync() as Float32Array).slice().buffer)));
      tf.dispose([value, ...Object.values(grads)]);
    });
    return { bits, identityCalls: timings.find((t) => t.kernelName === 'Identity')?.calls ?? 0, leftBehind: tf.memory().numTensors - tensors };
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

test('shared saved tensors give the gradients of TF.js clones bit for bit, without the Identity calls, and leave no tensor behind', async () => {
  const cloned = await gradientBits(false);
  const shared = await gradientBits(true);
  assert.is(cloned.leftBehind, 0, 'tensors left behind by the cloning path');
  assert.is(shared.leftBehind, 0, 'tensors left behind by the shared path');
  assert.ok(cloned.bits.length > 1000, `only ${cloned.bits.length} gradient values`);
  assert.ok(cloned.bits.length === shared.bits.length && cloned.bits.every((b, i) => b === shared.bits[i]), 'gradients differ');
  assert.ok(cloned.identityCalls > 20, `TF.js' own path made ${cloned.identityCalls} Identity calls`);
  assert.ok(shared.identityCalls < cloned.identityCalls / 4, `shared: ${shared.identityCalls} Identity calls vs ${cloned.identityCalls} cloning`);
});

test.run();
