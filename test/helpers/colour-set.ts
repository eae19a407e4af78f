import type { ImageSet } from '../../src/ml/dataset.js';
import { createRng } from '../../src/ml/rng.js';

/** Side of the tiny images: big enough for the models' pooling, small enough for fast tests. */
export const COLOUR_SET_SIDE = 8;
const COLOURS: [number, number, number][] = [[220, 30, 30], [30, 220, 30], [30, 30, 220]];

/**
 * A learnable 3-class task for training tests: an image's class is its colour (red, green, blue),
 * each byte jittered by seeded noise of ±`noise`.
 */
export function colourSet(count: number, seed: number, noise: number): ImageSet {
  const side = COLOUR_SET_SIDE;
  const rng = createRng(seed);
  const images = new Uint8Array(count * side * side * 3);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % COLOURS.length;
    labels[i] = k;
    for (let p = 0; p < side * side; p++) {
      for (let c = 0; c < 3; c++) images[(i * side * side + p) * 3 + c] = Math.max(0, Math.min(255, COLOURS[k]![c]! + rng.int(2 * noise + 1) - noise));
    }
  }
  return { images, labels, count, height: side, width: side, channels: 3 };
}
