/**
 * One-pixel search: batched candidate evaluation (every search's whole population in few forward
 * passes) against evaluating the very same candidates one image per forward pass. Each search has
 * its own seeded stream, so both runs propose identical candidates as long as the model returns
 * identical probabilities; the bench checks that by comparing the found pixels.
 *
 * Run directly (`node dist/bench/one-pixel.js [--model lenet5] [--backend auto]`) or via bench/index.
 */
import { pathToFileURL } from 'node:url';
import { initEngine, parseBackendPreference } from '../src/engine/index.js';
import { modelPredictor } from '../src/ml/attacks/model-predictor.js';
import { argmax, searchOnePixel, type AttackedImage, type OnePixelSearchReport, type PredictFn } from '../src/ml/attacks/one-pixel-search.js';
import { toUnitFloats } from '../src/ml/attacks/candidate-batch.js';
import { buildModel, isModelName } from '../src/ml/models/index.js';
import { createRng } from '../src/ml/rng.js';

const SHAPE = { height: 32, width: 32, channels: 3 };
const IMAGE_SIZE = 32 * 32 * 3;

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** Random images, labelled with the model's own prediction so every search starts "correct". */
async function benchImages(count: number, predict: PredictFn): Promise<AttackedImage[]> {
  const rng = createRng(7);
  const images: AttackedImage[] = [];
  for (let i = 0; i < count; i++) {
    const pixels = new Uint8Array(IMAGE_SIZE);
    for (let k = 0; k < pixels.length; k++) pixels[k] = rng.int(256);
    const probs = await predict(toUnitFloats(pixels));
    images.push({ image: i, trueClass: argmax(probs), pixels });
  }
  return images;
}

function describe(label: string, r: OnePixelSearchReport): string {
  return (
    `${label.padEnd(14)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.forwardCalls.toString().padStart(5)} forward calls  ` +
    `${((r.evaluations / r.seconds) | 0).toString().padStart(6)} candidates/s  ${r.imagesPerMinute.toFixed(1).padStart(7)} images/min  ` +
    `forward ${((100 * r.forwardSeconds) / r.seconds).toFixed(1)}% of time`
  );
}

export async function main(): Promise<void> {
  const modelName = argValue('model', 'lenet5');
  if (!isModelName(modelName)) throw new Error(`unknown model ${modelName}`);
  const backend = await initEngine(parseBackendPreference(argValue('backend', 'auto')));
  const model = buildModel(modelName, { seed: 1 });
  const predict = modelPredictor(model, SHAPE, 10);
  const images = await benchImages(4, predict);
  const common = {
    mode: 'non-targeted' as const,
    shape: SHAPE,
    population: 40,
    generations: 5,
    seed: 11,
    // Fixed work per search, so both runs do exactly the same number of evaluations.
    earlyStop: false,
  };
  process.stdout.write(
    `one-pixel search: ${modelName} (untrained, seeded), backend ${backend.name}, ${images.length} images, ` +
      `population ${common.population}, ${common.generations} generations, non-targeted\n`,
  );
  // Warm-up: the first predict of a shape compiles / allocates.
  await predict(new Float32Array(160 * IMAGE_SIZE));
  await predict(new Float32Array(IMAGE_SIZE));

  const batched = await searchOnePixel(images, predict, { ...common, concurrent: images.length, maxBatch: 160 });
  const single = await searchOnePixel(images, predict, { ...common, concurrent: 1, maxBatch: 1 });
  model.dispose();

  process.stdout.write(describe('batched', batched) + '\n');
  process.stdout.write(describe('one at a time', single) + '\n');
  const same = batched.results.filter((r, i) => JSON.stringify(r) === JSON.stringify(single.results[i])).length;
  process.stdout.write(`same pixels found: ${same}/${batched.results.length} searches (identical candidates when probabilities match bit for bit)\n`);
  process.stdout.write(`speedup (one at a time / batched): ${(single.seconds / batched.seconds).toFixed(2)}x\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
