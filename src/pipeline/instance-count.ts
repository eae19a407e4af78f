import type { JsonValue } from '../common/json.js';
import { matrixValueSize } from './matrix-range.js';

/**
 * Counting instances before expanding them, so a small file with a huge matrix is refused in
 * milliseconds instead of running out of memory. Counts are upper bounds (exclude rules and joins
 * that don't match only remove instances) computed as floating-point numbers, so 10^30 is fine.
 */

/** Default of the instance limit; BDLAB_MAX_INSTANCES changes it (see docs/pipeline-format.md). */
export const DEFAULT_MAX_INSTANCES = 2_000_000;

/**
 * How many values one matrix key sweeps: a list's plain values plus the steps of each
 * `{ range: [...] }` generator, computed without generating them (matrix-range.ts).
 */
export function matrixValueCount(spec: JsonValue): number {
  return matrixValueSize(spec);
}

/** Upper bound of a stage's own combinations: the product of its keys' value counts. */
export function ownCombinationBound(matrix: Readonly<Record<string, JsonValue>>): number {
  let product = 1;
  for (const spec of Object.values(matrix)) product *= matrixValueCount(spec);
  return product;
}

/** What bounds a stage's instances: its own matrix, and per key the number of values seen so far. */
export interface StageBound {
  /** Upper bound of the stage's instances. */
  instances: number;
  /** Upper bound of the distinct values of each matrix key the stage carries (own or inherited). */
  keyValues: Map<string, number>;
}

/**
 * A stage's bound from its own matrix and the bounds of the stages it needs (fan-in edges pass no
 * keys). Instances are distinct points over the stage's keys, so they are bounded both by the
 * product of the keys' value counts and by own combinations times the upstream bounds.
 */
export function stageBound(ownMatrix: Readonly<Record<string, JsonValue>>, upstream: readonly { bound: StageBound; passesKeys: readonly string[] }[]): StageBound {
  const keyValues = new Map<string, number>();
  for (const [key, spec] of Object.entries(ownMatrix)) keyValues.set(key, matrixValueCount(spec));
  let viaEdges = ownCombinationBound(ownMatrix);
  for (const { bound, passesKeys } of upstream) {
    if (passesKeys.length === 0) continue;
    viaEdges *= bound.instances;
    for (const key of passesKeys) {
      const inherited = bound.keyValues.get(key) ?? 1;
      const own = keyValues.get(key);
      keyValues.set(key, own === undefined ? inherited : Math.min(own, inherited));
    }
  }
  let viaKeys = 1;
  for (const count of keyValues.values()) viaKeys *= count;
  return { instances: Math.min(viaEdges, viaKeys), keyValues };
}
