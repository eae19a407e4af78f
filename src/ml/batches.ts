import * as tf from '@tensorflow/tfjs';
import { type AugmentDraw, NO_AUGMENT, writeAugmentedImage } from './augment.js';
import { type ImageSet, imageSize } from './dataset.js';

/**
 * Builds the float input tensor [n, H, W, C] in [0,1] for the images at `indices` (one pass over
 * the bytes into one Float32Array, then one upload). `draws[i]` augments image i when given.
 */
export function imageBatch(set: ImageSet, indices: ArrayLike<number>, draws?: readonly AugmentDraw[]): tf.Tensor4D {
  const size = imageSize(set);
  const n = indices.length;
  const data = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    writeAugmentedImage(set.images, indices[i]! * size, set.height, set.width, set.channels, draws?.[i] ?? NO_AUGMENT, data, i * size);
  }
  return tf.tensor4d(data, [n, set.height, set.width, set.channels], 'float32');
}

/** Input tensor for images start..start+count-1, no augmentation (for evaluation). */
export function imageRange(set: ImageSet, start: number, count: number): tf.Tensor4D {
  const size = imageSize(set);
  const end = Math.min(set.count, start + count);
  const bytes = set.images.subarray(start * size, end * size);
  const data = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) data[i] = bytes[i]! / 255;
  return tf.tensor4d(data, [end - start, set.height, set.width, set.channels], 'float32');
}

/** Integer label tensor [n] for the images at `indices`. */
export function labelBatch(set: ImageSet, indices: ArrayLike<number>): tf.Tensor1D {
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) labels[i] = set.labels[indices[i]!]!;
  return tf.tensor1d(labels, 'int32');
}
