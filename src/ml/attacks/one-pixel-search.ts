import { performance } from 'node:perf_hooks';
import type { AttackOutcome } from '../metrics.js';
import {
  candidateBounds,
  candidateDims,
  decodeCandidate,
  toUnitFloats,
  writeCandidateImage,
  type ImageShape,
} from './candidate-batch.js';
import { DifferentialEvolution } from './differential-evolution.js';
import { SeededRandom, searchSeed } from './seeded-random.js';

/**
 * Su et al.'s one-pixel adversarial search: differential evolution over (x, y, r, g, b) for each
 * attacked image (and, in targeted mode, each other class), with every search's candidates of a
 * generation evaluated together in few large forward passes.
 */

/** Probabilities for a batch: input NHWC floats in [0, 1] ([n, H, W, C]), output [n, numClasses]. */
export type PredictFn = (batch: Float32Array) => Promise<Float32Array>;

export type OnePixelMode = 'targeted' | 'non-targeted';

export interface AttackedImage {
  /** Test-set index, carried into outcomes and pixels.json. */
  image: number;
  trueClass: number;
  /** H×W×C bytes (NHWC slice of an ImageSet). */
  pixels: Uint8Array;
}

export interface OnePixelSearchProgress {
  /** Generation of the oldest search still running. */
  generation: number;
  generations: number;
  /** Best fitness of that search (targeted: p(target); non-targeted: 1 − p(true)). */
  bestFitness: number;
  searchesDone: number;
  searchesTotal: number;
  imagesDone: number;
  imagesTotal: number;
  imagesPerMinute: number;
  seconds: number;
}

export interface OnePixelSearchOptions {
  mode: OnePixelMode;
  shape: ImageShape;
  numClasses?: number;
  population?: number;
  generations?: number;
  mutation?: number;
  seed?: number;
  /** Largest number of images in one predict call. */
  maxBatch?: number;
  /** How many searches (image × target) evolve side by side and share forward passes. */
  concurrent?: number;
  /** Stop a search as soon as one candidate reaches the goal (the paper's early stop). */
  earlyStop?: boolean;
  /** Mean and standard deviation of the initial colour values (the paper: N(128, 127), clipped). */
  colorMean?: number;
  colorStd?: number;
  onProgress?(progress: OnePixelSearchProgress): void;
  /** Called as each search finishes (e.g. to checkpoint); results arrive in completion order. */
  onResult?(result: PixelSearchResult): void | Promise<void>;
  signal?: AbortSignal;
}

/** The best pixel found for one search; one entry of pixels.json. */
export interface PixelSearchResult {
  image: number;
  trueClass: number;
  target: number | null;
  success: boolean;
  row: number;
  col: number;
  color: number[];
  /** Class the model predicts with the pixel applied, and its probability. */
  predicted: number;
  probability: number;
  /** Probability of the goal class with the pixel applied: target (targeted) or true class (non-targeted). */
  goalProbability: number;
  /** DE generations run (0 when the initial population already succeeded). */
  generations: number;
}

export interface OnePixelSearchReport {
  results: PixelSearchResult[];
  outcomes: AttackOutcome[];
  seconds: number;
  /** Wall time inside predict. */
  forwardSeconds: number;
  forwardCalls: number;
  /** Candidate images evaluated. */
  evaluations: number;
  imagesPerMinute: number;
}

export const ONE_PIXEL_DEFAULTS = {
  numClasses: 10,
  population: 400,
  generations: 100,
  mutation: 0.5,
  seed: 0,
  maxBatch: 256,
  concurrent: 9,
  earlyStop: true,
  colorMean: 128,
  colorStd: 127,
} as const;

interface Champion {
  success: boolean;
  fitness: number;
  vector: number[];
  probabilities: Float32Array;
}

interface SearchTask {
  /** Position in the queue, which is the order of the returned results. */
  order: number;
  image: AttackedImage;
  base: Float32Array;
  target: number | null;
  de: DifferentialEvolution;
  champion: Champion | null;
  /** Scratch for one generation's fitness values. */
  scores: Float64Array;
  done: boolean;
}

/** Runs the search on every image; results come back in image order (then target order). */
export async function searchOnePixel(
  images: readonly AttackedImage[],
  predict: PredictFn,
  options: OnePixelSearchOptions,
): Promise<OnePixelSearchReport> {
  const o = { ...ONE_PIXEL_DEFAULTS, ...stripUndefined(options) };
  const shape = o.shape;
  const imageSize = shape.height * shape.width * shape.channels;
  const dims = candidateDims(shape);
  const bounds = candidateBounds(shape);
  checkOptions(o);

  const seen = new Set<number>();
  for (const img of images) {
    if (seen.has(img.image)) throw new RangeError(`one-pixel search: image ${img.image} is listed twice`);
    seen.add(img.image);
    if (img.pixels.length !== imageSize) {
      throw new RangeError(`one-pixel search: image ${img.image} has ${img.pixels.length} values, expected ${imageSize}`);
    }
    if (!Number.isInteger(img.trueClass) || img.trueClass < 0 || img.trueClass >= o.numClasses) {
      throw new RangeError(`one-pixel search: image ${img.image} has true class ${img.trueClass}, not in 0..${o.numClasses - 1}`);
    }
  }

  // Targeted mode attacks every other class of an image; searches of one image are queued together
  // so an image finishes (and counts in images/min) as early as possible.
  const queue: { image: AttackedImage; target: number | null }[] = [];
  for (const image of images) {
    if (o.mode === 'non-targeted') queue.push({ image, target: null });
    else for (let t = 0; t < o.numClasses; t++) if (t !== image.trueClass) queue.push({ image, target: t });
  }
  const remainingPerImage = new Map<number, number>();
  for (const q of queue) remainingPerImage.set(q.image.image, (remainingPerImage.get(q.image.image) ?? 0) + 1);

  const startTask = (entry: { image: AttackedImage; target: number | null }, order: number): SearchTask => {
    const rng = new SeededRandom(searchSeed(o.seed, entry.image.image, entry.target));
    const de = new DifferentialEvolution(
      {
        population: o.population,
        mutation: o.mutation,
        low: bounds.low,
        high: bounds.high,
        // Positions: ±0.5 beyond the bounds so that, after clipping and rounding, edge pixels are
        // as likely as inner ones. Colours: the paper's N(128, 127), clipped.
        initial: (r, d) => (d < 2 ? r.uniform(bounds.low[d]! - 0.5, bounds.high[d]! + 0.5) : r.normal(o.colorMean, o.colorStd)),
      },
      rng,
    );
    return {
      order,
      image: entry.image,
      base: toUnitFloats(entry.image.pixels),
      target: entry.target,
      de,
      champion: null,
      scores: new Float64Array(o.population),
      done: false,
    };
  };

  const resultsByTask = new Map<number, PixelSearchResult>();
  const active: SearchTask[] = [];
  let nextInQueue = 0;
  let searchesDone = 0;
  let imagesDone = 0;
  let forwardSeconds = 0;
  let forwardCalls = 0;
  let evaluations = 0;
  const started = performance.now();
  const batch = new Float32Array(Math.min(o.maxBatch, o.population * o.concurrent) * imageSize);

  while (active.length > 0 || nextInQueue < queue.length) {
    o.signal?.throwIfAborted();
    while (active.length < o.concurrent && nextInQueue < queue.length) {
      active.push(startTask(queue[nextInQueue]!, nextInQueue));
      nextInQueue++;
    }

    // One step = every active search's pending candidates, evaluated in chunks of maxBatch.
    const total = active.length * o.population;
    const batchSlots = batch.length / imageSize;
    for (let first = 0; first < total; first += batchSlots) {
      const count = Math.min(batchSlots, total - first);
      for (let k = 0; k < count; k++) {
        const task = active[Math.floor((first + k) / o.population)]!;
        const member = (first + k) % o.population;
        writeCandidateImage(batch, k, task.base, task.de.pending(), member * dims, shape);
      }
      const t0 = performance.now();
      const probabilities = await predict(batch.subarray(0, count * imageSize));
      forwardSeconds += (performance.now() - t0) / 1000;
      forwardCalls++;
      evaluations += count;
      if (probabilities.length !== count * o.numClasses) {
        throw new RangeError(
          `one-pixel search: predict returned ${probabilities.length} values for ${count} images × ${o.numClasses} classes`,
        );
      }
      for (let k = 0; k < count; k++) {
        const task = active[Math.floor((first + k) / o.population)]!;
        const member = (first + k) % o.population;
        const probs = probabilities.subarray(k * o.numClasses, (k + 1) * o.numClasses);
        const fitness = task.target === null ? 1 - probs[task.image.trueClass]! : probs[task.target]!;
        task.scores[member] = fitness;
        offerChampion(task, probs, fitness, member, dims);
      }
    }

    for (const task of active) {
      task.de.acceptFitness(task.scores);
      const reachedGoal = o.earlyStop && task.champion!.success;
      if (reachedGoal || task.de.generation >= o.generations) {
        task.done = true;
        const result = toResult(task, shape);
        resultsByTask.set(task.order, result);
        await o.onResult?.(result);
        searchesDone++;
        const left = remainingPerImage.get(task.image.image)! - 1;
        remainingPerImage.set(task.image.image, left);
        if (left === 0) imagesDone++;
      }
    }

    const oldest = active[0]!;
    const seconds = (performance.now() - started) / 1000;
    o.onProgress?.({
      generation: oldest.de.generation,
      generations: o.generations,
      bestFitness: oldest.de.bestFitness(),
      searchesDone,
      searchesTotal: queue.length,
      imagesDone,
      imagesTotal: images.length,
      imagesPerMinute: seconds > 0 ? (imagesDone / seconds) * 60 : 0,
      seconds,
    });
    for (let i = active.length - 1; i >= 0; i--) if (active[i]!.done) active.splice(i, 1);
  }

  const seconds = (performance.now() - started) / 1000;
  const results = [...resultsByTask.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  return {
    results,
    outcomes: results.map((r) => ({
      image: r.image,
      trueClass: r.trueClass,
      target: r.target,
      predicted: r.predicted,
      probability: r.probability,
    })),
    seconds,
    forwardSeconds,
    forwardCalls,
    evaluations,
    imagesPerMinute: seconds > 0 ? (images.length / seconds) * 60 : 0,
  };
}

/**
 * The reported pixel is the best candidate ever evaluated, successful ones first: a child that
 * reaches the goal but loses the fitness comparison with its parent (possible, since fitness is one
 * class's probability while success is an argmax) must not be lost.
 */
function offerChampion(task: SearchTask, probs: Float32Array, fitness: number, member: number, dims: number): void {
  const predicted = argmax(probs);
  const success = task.target === null ? predicted !== task.image.trueClass : predicted === task.target;
  const current = task.champion;
  if (current && (current.success > success || (current.success === success && current.fitness >= fitness))) return;
  const vectors = task.de.pending();
  task.champion = {
    success,
    fitness,
    vector: Array.from(vectors.subarray(member * dims, (member + 1) * dims)),
    probabilities: new Float32Array(probs),
  };
}

function toResult(task: SearchTask, shape: ImageShape): PixelSearchResult {
  const champion = task.champion!;
  const pixel = decodeCandidate(champion.vector, 0, shape);
  const predicted = argmax(champion.probabilities);
  const goal = task.target ?? task.image.trueClass;
  return {
    image: task.image.image,
    trueClass: task.image.trueClass,
    target: task.target,
    success: champion.success,
    row: pixel.row,
    col: pixel.col,
    color: pixel.color,
    predicted,
    probability: champion.probabilities[predicted]!,
    goalProbability: champion.probabilities[goal]!,
    generations: task.de.generation,
  };
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

function checkOptions(o: Required<Omit<OnePixelSearchOptions, 'onProgress' | 'onResult' | 'signal'>>): void {
  const positiveInt = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`one-pixel search: ${name} must be an integer ≥ ${min} (got ${v})`);
  };
  positiveInt('population', o.population, 4);
  positiveInt('generations', o.generations, 0);
  positiveInt('maxBatch', o.maxBatch, 1);
  positiveInt('concurrent', o.concurrent, 1);
  positiveInt('numClasses', o.numClasses, 2);
  if (!(o.mutation > 0 && o.mutation <= 2)) throw new RangeError(`one-pixel search: mutation must be in (0, 2] (got ${o.mutation})`);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
