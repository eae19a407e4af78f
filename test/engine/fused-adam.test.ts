import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { adamOptimizer, initEngine, setEngineThreads } from '../../src/engine/index.js';
import { native, nativeTest } from '../helpers/native-test.js';
import { imageBatch } from '../../src/ml/batches.js';
import { buildModel, LOGITS_LAYER } from '../../src/ml/models/index.js';
import { colourSet, COLOUR_SET_SIDE } from '../helpers/colour-set.js';

/** The fused native Adam against TF.js' own: the same bits after every step, on every path. */

test.before(async () => {
  await initEngine('wasm');
});

test.after(() => {
  setEngineThreads(1);
});

const bits = (t: tf.Tensor): Uint32Array => new Uint32Array(new Float32Array(t.dataSync()).buffer);

interface Trained {
  weights: Uint32Array[];
  slots: Uint32Array[];
  losses: number[];
}

/**
 * `steps` Adam steps of a small ResNet (convolutions, batch norm, dense) from a fixed initialization.
 * `hold` keeps an extra reference to every variable's data before each step, so the fused update
 * must write fresh tensors instead of updating in place (and leave the held data alone).
 */
async function train(makeOptimizer: () => tf.Optimizer, steps: number, hold = false): Promise<Trained> {
  const model = buildModel('resnet34', { width: 0.125, numClasses: 3, inputShape: [COLOUR_SET_SIDE, COLOUR_SET_SIDE, 3], seed: 7 });
  const logits = tf.model({ inputs: model.inputs, outputs: model.getLayer(LOGITS_LAYER).output as tf.SymbolicTensor });
  const data = colourSet(32, 3, 11);
  const x = imageBatch(data, Array.from({ length: data.count }, (_, i) => i));
  const y = tf.oneHot(tf.tensor1d(Array.from(data.labels), 'int32'), 3);
  const optimizer = makeOptimizer();
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const held = hold ? model.trainableWeights.map((w) => ({ copy: tf.clone(w.read()), before: bits(w.read()) })) : [];
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, logits.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      for (const { copy, before } of held) {
        assert.equal(bits(copy), before, 'data still referred to elsewhere was changed in place');
        copy.dispose();
      }
    }
    const slots = await optimizer.getWeights();
    return { weights: model.trainableWeights.map((w) => bits(w.read())), slots: slots.map((s) => bits(s.tensor)), losses };
  } finally {
    optimizer.dispose();
    tf.dispose([x, y]);
    model.dispose();
  }
}

const tfjsAdam = (): tf.Optimizer => tf.train.adam(0.01, 0.9, 0.999);
const fusedAdam = (): tf.Optimizer => adamOptimizer(0.01, 0.9, 0.999);

nativeTest('fused Adam gives the bits of TF.js Adam: weights, both moments, the beta powers and the iteration count, after 6 steps', async () => {
  setEngineThreads(1);
  const reference = await train(tfjsAdam, 6);
  const fused = await train(fusedAdam, 6);
  assert.ok(reference.losses[5]! < reference.losses[0]!, `did not learn: ${reference.losses}`);
  assert.equal(fused.losses, reference.losses);
  assert.equal(fused.weights.length, reference.weights.length);
  fused.weights.forEach((w, i) => assert.equal(w, reference.weights[i], `weight ${i}`));
  // getWeights: the iteration count, then every first and second moment.
  assert.equal(fused.slots.length, reference.slots.length);
  fused.slots.forEach((s, i) => assert.equal(s, reference.slots[i], `optimizer weight ${i}`));
});

nativeTest('fused Adam writes fresh tensors when a variable\'s data is shared, with the same bits; at 3 threads too', async () => {
  setEngineThreads(1);
  const reference = await train(tfjsAdam, 3);
  setEngineThreads(3);
  const held = await train(fusedAdam, 3, true);
  held.weights.forEach((w, i) => assert.equal(w, reference.weights[i], `weight ${i}`));
  held.slots.forEach((s, i) => assert.equal(s, reference.slots[i], `optimizer weight ${i}`));
  setEngineThreads(1);
});

nativeTest('fused Adam adds no tensors per step', async () => {
  const model = buildModel('cnn', { width: 0.25, numClasses: 3, inputShape: [COLOUR_SET_SIDE, COLOUR_SET_SIDE, 3], seed: 1 });
  const x = tf.randomUniform([8, COLOUR_SET_SIDE, COLOUR_SET_SIDE, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
  const optimizer = fusedAdam();
  const counts: number[] = [];
  for (let step = 0; step < 4; step++) {
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!.dispose();
    counts.push(tf.memory().numTensors);
  }
  optimizer.dispose();
  tf.dispose([x, y]);
  model.dispose();
  // The first step creates the moments; after it the count stays put.
  assert.equal(counts.slice(1), [counts[1], counts[1], counts[1]], `numTensors after each step: ${counts}`);
});

test.run();
