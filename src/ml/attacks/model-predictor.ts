import * as tf from '@tensorflow/tfjs';
import type { ImageShape } from './candidate-batch.js';
import type { PredictFn } from './one-pixel-search.js';

/**
 * A PredictFn backed by a Layers model: one tensor upload, one predict, one download per call.
 * bdlab's models end in softmax; should a model end in logits instead (rows not summing to 1),
 * softmax is applied so fitness stays a probability.
 */
export function modelPredictor(model: tf.LayersModel, shape: ImageShape, numClasses: number): PredictFn {
  const imageSize = shape.height * shape.width * shape.channels;
  let outputsAreLogits: boolean | undefined;
  return async (batch) => {
    const n = batch.length / imageSize;
    const output = tf.tidy(() => {
      const input = tf.tensor4d(batch, [n, shape.height, shape.width, shape.channels], 'float32');
      // predict() would otherwise cut the input into slices of 32 and concatenate the outputs,
      // which made batches of 800 four to eight times slower per image than batches of 64 on wasm.
      let y = model.predict(input, { batchSize: n }) as tf.Tensor;
      if (outputsAreLogits === undefined) outputsAreLogits = !looksLikeProbabilities(y);
      if (outputsAreLogits) y = tf.softmax(y);
      return y;
    });
    try {
      if (output.shape.length !== 2 || output.shape[1] !== numClasses) {
        throw new RangeError(`model output shape [${output.shape.join(', ')}] does not match [${n}, ${numClasses}]`);
      }
      return new Float32Array(await output.data<'float32'>());
    } finally {
      output.dispose();
    }
  };
}

function looksLikeProbabilities(y: tf.Tensor): boolean {
  return tf.tidy(() => {
    const min = y.min().dataSync()[0]!;
    const deviation = y.sum(-1).sub(1).abs().max().dataSync()[0]!;
    return min >= 0 && deviation < 1e-3;
  });
}

/** Input shape [H, W, C] a model expects, or null when it is not a fixed-size image input. */
export function modelImageShape(model: tf.LayersModel): ImageShape | null {
  const shape = model.inputs[0]?.shape;
  if (!shape || shape.length !== 4) return null;
  const [, height, width, channels] = shape;
  if (typeof height !== 'number' || typeof width !== 'number' || typeof channels !== 'number') return null;
  return { height, width, channels };
}

/** Number of classes of a classifier's output [N, K], or null. */
export function modelClassCount(model: tf.LayersModel): number | null {
  const shape = model.outputs[0]?.shape;
  return shape && shape.length === 2 && typeof shape[1] === 'number' ? shape[1] : null;
}
