import type { SeededRandom } from './seeded-random.js';

/**
 * Differential evolution, DE/rand/1 without crossover, as used by Su et al. for the one-pixel
 * attack: child_i = x_r1 + F (x_r2 − x_r3) with r1, r2, r3 distinct and ≠ i; a child replaces its
 * parent only when its fitness is strictly higher. Fitness is "higher is better".
 *
 * The class never evaluates anything itself: the caller reads `pending()`, evaluates those vectors
 * (typically together with other searches, in one batched forward pass) and hands the fitness back
 * through `acceptFitness()`. That inversion is what lets many searches share one batch.
 */
export interface DifferentialEvolutionOptions {
  /** Number of individuals; DE/rand/1 needs at least 4 (the parent and three distinct donors). */
  population: number;
  /** Mutation (differential weight) F. */
  mutation: number;
  /** Per-dimension inclusive bounds; children are clipped into them. */
  low: readonly number[];
  high: readonly number[];
  /** Draws the initial value of dimension `dim`; the result is clipped into the bounds. */
  initial(rng: SeededRandom, dim: number): number;
}

export class DifferentialEvolution {
  readonly dims: number;
  readonly size: number;
  /** size × dims, row-major. */
  readonly population: Float64Array;
  readonly fitness: Float64Array;
  /** Completed generations (the initial population is generation 0). */
  generation = 0;
  private readonly children: Float64Array;
  private evaluatedInitial = false;

  constructor(
    private readonly options: DifferentialEvolutionOptions,
    private readonly rng: SeededRandom,
  ) {
    if (!Number.isInteger(options.population) || options.population < 4) {
      throw new RangeError(`differential evolution needs a population of at least 4 (got ${options.population})`);
    }
    if (options.low.length !== options.high.length || options.low.length === 0) {
      throw new RangeError('differential evolution: low and high bounds must have the same, non-zero length');
    }
    this.dims = options.low.length;
    this.size = options.population;
    this.population = new Float64Array(this.size * this.dims);
    this.fitness = new Float64Array(this.size).fill(-Infinity);
    this.children = new Float64Array(this.size * this.dims);
    for (let i = 0; i < this.size; i++) {
      for (let d = 0; d < this.dims; d++) {
        this.population[i * this.dims + d] = this.clip(options.initial(rng, d), d);
      }
    }
  }

  /** The vectors waiting for fitness: the initial population first, then each generation's children. */
  pending(): Float64Array {
    return this.evaluatedInitial ? this.children : this.population;
  }

  /**
   * Takes the fitness of `pending()` (index-aligned). For children, applies greedy one-to-one
   * selection, then breeds the next generation's children. Returns how many parents were replaced.
   */
  acceptFitness(values: ArrayLike<number>): number {
    if (values.length !== this.size) {
      throw new RangeError(`differential evolution: expected ${this.size} fitness values, got ${values.length}`);
    }
    let replaced = 0;
    if (!this.evaluatedInitial) {
      for (let i = 0; i < this.size; i++) this.fitness[i] = values[i]!;
      this.evaluatedInitial = true;
    } else {
      for (let i = 0; i < this.size; i++) {
        if (values[i]! > this.fitness[i]!) {
          this.fitness[i] = values[i]!;
          this.population.set(this.children.subarray(i * this.dims, (i + 1) * this.dims), i * this.dims);
          replaced++;
        }
      }
      this.generation++;
    }
    this.breed();
    return replaced;
  }

  bestIndex(): number {
    let best = 0;
    for (let i = 1; i < this.size; i++) if (this.fitness[i]! > this.fitness[best]!) best = i;
    return best;
  }

  bestFitness(): number {
    return this.fitness[this.bestIndex()]!;
  }

  private breed(): void {
    const { mutation } = this.options;
    const n = this.size;
    const dims = this.dims;
    for (let i = 0; i < n; i++) {
      let r1 = this.rng.int(n - 1);
      if (r1 >= i) r1++;
      let r2: number;
      do r2 = this.rng.int(n); while (r2 === i || r2 === r1);
      let r3: number;
      do r3 = this.rng.int(n); while (r3 === i || r3 === r1 || r3 === r2);
      for (let d = 0; d < dims; d++) {
        const value = this.population[r1 * dims + d]! + mutation * (this.population[r2 * dims + d]! - this.population[r3 * dims + d]!);
        this.children[i * dims + d] = this.clip(value, d);
      }
    }
  }

  private clip(value: number, dim: number): number {
    const low = this.options.low[dim]!;
    const high = this.options.high[dim]!;
    return value < low ? low : value > high ? high : value;
  }
}
