/**
 * Seeded deterministic randomness. Every random choice in bdlab (poison indices, random triggers,
 * synthetic data, subsets) goes through this so a pipeline re-run with the same seed reproduces
 * its artifacts byte for byte — a precondition for content-hash caching to be honest.
 */

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** splitmix32-style finaliser: spreads nearby seeds (0, 1, 2 ...) into unrelated generator states. */
function mixSeed(seed: number): number {
  let z = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** mulberry32: 32-bit state, fast, statistically fine for sampling (not for cryptography). */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`rng seed must be a finite number, got ${seed}`);
  let state = mixSeed(seed);
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`rng.int needs a positive integer bound, got ${n}`);
      return Math.floor(next() * n);
    },
  };
}

/**
 * A seed for an independent stream derived from a base seed and a label, so e.g. the trigger and
 * the poisoned indices do not shift when one of them draws more numbers.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = mixSeed(seed);
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  return mixSeed(h);
}

/** In-place Fisher-Yates shuffle; returns the same array. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

/**
 * k distinct elements of `items`, chosen uniformly (partial Fisher-Yates on a copy), in draw order.
 * Sort the result when a stable order matters more than the draw order.
 */
export function sample<T>(items: readonly T[], k: number, rng: Rng): T[] {
  if (!Number.isInteger(k) || k < 0 || k > items.length) {
    throw new RangeError(`cannot sample ${k} of ${items.length} items`);
  }
  const pool = items.slice();
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.slice(0, k);
}
