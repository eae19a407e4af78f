import { fail, ok, type Result } from '../common/result.js';
import type { MatrixPoint } from '../pipeline/types.js';
import { varyingKeys } from './labels.js';

/** The matrix key preferred as x axis of the sweep figure when several numeric keys vary. */
export const DEFAULT_SWEEP_KEY = 'rate';

/**
 * Picks the matrix key for the "metric vs. sweep value" figure. With `requested` set, that key must
 * appear in the matrices and hold numbers; without it, the numeric key that varies (`rate` first,
 * then alphabetical). Returns undefined when the chosen key does not vary, since a one-point sweep
 * says nothing; returns an error text for a requested key that is missing or not numeric.
 */
export function resolveSweepKey(points: readonly MatrixPoint[], requested: string | undefined): Result<string | undefined, string> {
  const varying = varyingKeys(points);
  if (requested !== undefined) {
    const present = points.filter((p) => requested in p);
    if (present.length === 0) {
      const known = [...new Set(points.flatMap((p) => Object.keys(p)))].sort();
      return fail(`x_key "${requested}" is not a matrix key of any evaluate or one-pixel-search input; ` +
        `valid keys here are: ${known.length > 0 ? known.join(', ') : '(none: the inputs have no matrix)'}.`);
    }
    const nonNumeric = present.find((p) => typeof p[requested] !== 'number');
    if (nonNumeric) {
      return fail(`x_key "${requested}" must name a numeric matrix key, but one input has ` +
        `${requested}: ${JSON.stringify(nonNumeric[requested])}; use a key whose values are all numbers (e.g. rate).`);
    }
    return ok(varying.includes(requested) && distinctNumbers(points, requested) > 1 ? requested : undefined);
  }
  // Only `rate` is picked unasked: other numeric keys (a width multiplier, a seed) vary in many
  // pipelines without being a sweep worth a figure; name them with x_key to get one.
  const rateVaries = varying.includes(DEFAULT_SWEEP_KEY) &&
    points.every((p) => !(DEFAULT_SWEEP_KEY in p) || typeof p[DEFAULT_SWEEP_KEY] === 'number') &&
    distinctNumbers(points, DEFAULT_SWEEP_KEY) > 1;
  return ok(rateVaries ? DEFAULT_SWEEP_KEY : undefined);
}

function distinctNumbers(points: readonly MatrixPoint[], key: string): number {
  return new Set(points.map((p) => p[key]).filter((v) => typeof v === 'number')).size;
}
