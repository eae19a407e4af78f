import { createRng, deriveSeed, type Rng } from '../rng.js';

/**
 * The shared seeded generator (src/ml/rng.ts) plus the two draws differential evolution needs:
 * uniform ranges and normal samples.
 */
export class SeededRandom {
  private readonly rng: Rng;
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.rng = createRng(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.rng.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return this.rng.int(n);
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.rng.next();
  }

  /** Normal sample by Box–Muller; the second value of each pair is kept for the next call. */
  normal(mean: number, std: number): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.rng.next();
    const v = this.rng.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return mean + std * radius * Math.cos(2 * Math.PI * v);
  }
}

/**
 * One independent stream per search (image, target), so a search's candidates do not depend on
 * how many searches run concurrently, in which order, or with what batch size.
 */
export function searchSeed(seed: number, image: number, target: number | null): number {
  return deriveSeed(seed, `one-pixel/${image}/${target ?? 'any'}`);
}
