import { imageSize, type ImageSet } from '../dataset.js';
import { createRng, deriveSeed, shuffleInPlace } from '../rng.js';
import { toUnitFloats } from './candidate-batch.js';
import { argmax, type AttackedImage, type PredictFn } from './one-pixel-search.js';

export interface ImageSelection {
  images: AttackedImage[];
  /** Test images looked at to find them. */
  examined: number;
}

/**
 * Draws up to `count` test images the model classifies correctly, in a seeded random order (the
 * paper attacks only correctly classified images: a misclassified one is "flipped" by no pixel).
 * Predicts chunk by chunk and stops as soon as enough are found, so a large test set costs little.
 * Returned in ascending test-index order so outputs read naturally.
 */
export async function selectCorrectlyClassified(
  set: ImageSet,
  predict: PredictFn,
  count: number,
  seed: number,
  batchSize: number,
  numClasses: number,
): Promise<ImageSelection> {
  const size = imageSize(set);
  const order = shuffleInPlace(Array.from({ length: set.count }, (_, i) => i), createRng(deriveSeed(seed, 'one-pixel/images')));
  const chosen: AttackedImage[] = [];
  let examined = 0;
  while (chosen.length < count && examined < order.length) {
    const chunk = order.slice(examined, examined + Math.max(1, Math.min(batchSize, 2 * (count - chosen.length))));
    examined += chunk.length;
    const batch = new Float32Array(chunk.length * size);
    chunk.forEach((index, k) => batch.set(toUnitFloats(set.images.subarray(index * size, (index + 1) * size)), k * size));
    const probabilities = await predict(batch);
    chunk.forEach((index, k) => {
      const label = set.labels[index]!;
      const predicted = argmax(probabilities.subarray(k * numClasses, (k + 1) * numClasses));
      if (predicted === label && chosen.length < count) {
        chosen.push({ image: index, trueClass: label, pixels: set.images.subarray(index * size, (index + 1) * size) });
      }
    });
  }
  chosen.sort((a, b) => a.image - b.image);
  return { images: chosen, examined };
}
