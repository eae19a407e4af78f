/**
 * Neural Cleanse's mitigation by unlearning (Wang et al., §VI-C): fine-tune the model on clean
 * training images of which a fraction carry a reversed trigger while keeping their TRUE labels, so
 * the network learns that the trigger means nothing. Here: a seeded sample of the clean images, a
 * seeded `triggerFraction` of them stamped, the flagged classes' triggers taken in turn.
 */
import { type ImageSet, imageSize } from '../dataset.js';
import { createRng, deriveSeed, sample } from '../rng.js';
import { stampTrigger, type ReversedTrigger } from './neural-cleanse.js';

export interface UnlearningSet {
  set: ImageSet;
  /** Positions (in `set`) of the stamped images. */
  stamped: number[];
}

export function unlearningSet(
  clean: ImageSet,
  triggers: readonly Pick<ReversedTrigger, 'mask' | 'pattern'>[],
  options: { fraction: number; triggerFraction: number; seed: number },
): UnlearningSet {
  const size = imageSize(clean);
  const count = Math.max(1, Math.min(clean.count, Math.round(clean.count * options.fraction)));
  const all = Array.from({ length: clean.count }, (_, i) => i);
  const picked = sample(all, count, createRng(deriveSeed(options.seed, 'unlearn-images'))).sort((a, b) => a - b);
  const set: ImageSet = { ...clean, count, images: new Uint8Array(count * size), labels: new Uint8Array(count) };
  picked.forEach((source, i) => {
    set.images.set(clean.images.subarray(source * size, (source + 1) * size), i * size);
    set.labels[i] = clean.labels[source]!;
  });
  if (triggers.length === 0) return { set, stamped: [] };
  const positions = Array.from({ length: count }, (_, i) => i);
  const stamped = sample(positions, Math.round(count * options.triggerFraction), createRng(deriveSeed(options.seed, 'unlearn-stamped'))).sort((a, b) => a - b);
  stamped.forEach((position, k) => stampTrigger(set, position, triggers[k % triggers.length]!));
  return { set, stamped };
}
