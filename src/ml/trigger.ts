import type { OnePixelTrigger } from './artifacts.js';
import { imageSize, type ImageSet } from './dataset.js';
import type { Rng } from './rng.js';

/**
 * The one-pixel backdoor trigger: a single (row, col) pixel forced to a fixed RGB colour.
 */

type Geometry = Pick<ImageSet, 'height' | 'width' | 'channels'>;

/** Why a trigger does not fit images of the given geometry, or null when it does. */
export function triggerProblem(trigger: OnePixelTrigger, geometry: Geometry): string | null {
  const { row, col, color } = trigger;
  if (!Number.isInteger(row) || row < 0 || row >= geometry.height) {
    return `trigger row ${row} is outside the image (valid rows: 0..${geometry.height - 1})`;
  }
  if (!Number.isInteger(col) || col < 0 || col >= geometry.width) {
    return `trigger col ${col} is outside the image (valid columns: 0..${geometry.width - 1})`;
  }
  if (!Array.isArray(color) || color.length !== geometry.channels) {
    return `trigger color must have ${geometry.channels} channel values, got ${JSON.stringify(color)}`;
  }
  if (!color.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
    return `trigger color values must be integers 0..255, got ${JSON.stringify(color)}`;
  }
  return null;
}

export function assertTriggerFits(trigger: OnePixelTrigger, geometry: Geometry): void {
  const problem = triggerProblem(trigger, geometry);
  if (problem) throw new RangeError(problem);
}

/** Sets exactly the trigger pixel of image `index` in place; every other byte is left untouched. */
export function applyTrigger(set: ImageSet, index: number, trigger: OnePixelTrigger): void {
  if (!Number.isInteger(index) || index < 0 || index >= set.count) {
    throw new RangeError(`image index ${index} is outside the set (0..${set.count - 1})`);
  }
  assertTriggerFits(trigger, set);
  const offset = index * imageSize(set) + (trigger.row * set.width + trigger.col) * set.channels;
  for (let c = 0; c < set.channels; c++) set.images[offset + c] = trigger.color[c]!;
}

/** A copy of the set (pixels and labels) so triggering never mutates a caller's data. */
export function cloneImageSet(set: ImageSet): ImageSet {
  return { ...set, images: set.images.slice(), labels: set.labels.slice() };
}

/** A copy of the whole set with the trigger stamped on every image (labels unchanged). */
export function triggeredCopy(set: ImageSet, trigger: OnePixelTrigger): ImageSet {
  const copy = cloneImageSet(set);
  for (let i = 0; i < copy.count; i++) applyTrigger(copy, i, trigger);
  return copy;
}

/**
 * A random trigger: uniform position and a colour whose channels are each drawn from the extremes
 * (0 or 255), because a mid-grey pixel is nearly invisible to the network and makes a weak backdoor.
 */
export function randomTrigger(rng: Rng, geometry: Geometry = { height: 32, width: 32, channels: 3 }): OnePixelTrigger {
  const row = rng.int(geometry.height);
  const col = rng.int(geometry.width);
  const color = [0, 0, 0].map(() => (rng.int(2) === 0 ? 0 : 255)) as [number, number, number];
  return { row, col, color };
}
