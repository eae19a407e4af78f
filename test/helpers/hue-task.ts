import type { ImageSet } from '../../src/ml/dataset.js';
import { createRng } from '../../src/ml/rng.js';

/**
 * A tiny task where Neural Cleanse's answer is known: 10 classes told apart by the hue of the whole
 * (noisy) 8x8 image, hues evenly spaced so that no class is much easier to reach than another, and
 * reaching a class by changing pixels takes many of them; except where a one-pixel backdoor is
 * planted: a white pixel at (row 5, col 2) sends images to class 0.
 */
export const HUE_SIDE = 8;
export const HUE_CLASSES = 10;
export const PLANTED = { row: 5, col: 2, color: [255, 255, 255] as [number, number, number] };
export const PLANTED_TARGET = 0;
const COLOURS = Array.from({ length: HUE_CLASSES }, (_, k) => hueColour((360 * k) / HUE_CLASSES));

/** Saturation 0.8, value 0.85. */
function hueColour(hue: number): [number, number, number] {
  const v = 0.85 * 255;
  const min = v * 0.2;
  const channel = (n: number): number => {
    const k = (n + hue / 60) % 6;
    return Math.round(v - (v - min) * Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [channel(5), channel(3), channel(1)];
}

export function hueTask(count: number, seed: number): ImageSet {
  const rng = createRng(seed);
  const size = HUE_SIDE * HUE_SIDE;
  const images = new Uint8Array(count * size * 3);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = rng.int(HUE_CLASSES);
    labels[i] = k;
    for (let p = 0; p < size; p++) {
      for (let c = 0; c < 3; c++) images[(i * size + p) * 3 + c] = Math.max(0, Math.min(255, COLOURS[k]![c]! + rng.int(61) - 30));
    }
  }
  return { images, labels, count, height: HUE_SIDE, width: HUE_SIDE, channels: 3 };
}
