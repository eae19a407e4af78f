import { CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES, cifarFromFiles, encodeCifarBatch, type CifarData } from './cifar.js';
import type { ImageSet } from './dataset.js';
import { createRng, deriveSeed, shuffleInPlace, type Rng } from './rng.js';

/**
 * A tiny learnable stand-in for CIFAR-10: each class is a coloured shape on a noisy background, so a
 * small CNN reaches high accuracy in seconds — enough to exercise training, poisoning and evaluation
 * end to end without the 170 MB download. The data is written as CIFAR-10 binary records and parsed
 * back, so every synthetic run also exercises the real parser.
 */

export interface SyntheticOptions {
  train: number;
  test: number;
  seed: number;
  /** 0 = clean shapes at fixed places; 1 = heavy noise, colour and position jitter. */
  difficulty: number;
}

export const SYNTHETIC_CLASSES = [
  'h-bar', 'v-bar', 'square', 'ring', 'diagonal', 'anti-diagonal', 'cross', 'checker', 'dots', 'triangle',
];

const CLASS_COLORS: [number, number, number][] = [
  [230, 40, 40], [40, 200, 60], [50, 80, 230], [230, 210, 40], [200, 50, 200],
  [40, 210, 210], [240, 140, 30], [150, 150, 150], [250, 250, 250], [120, 60, 20],
];

/** Shape membership in coordinates relative to the shape centre (dy, dx in -8..8). */
const SHAPES: ((dy: number, dx: number) => boolean)[] = [
  (dy, dx) => Math.abs(dy) <= 2 && Math.abs(dx) <= 8,
  (dy, dx) => Math.abs(dx) <= 2 && Math.abs(dy) <= 8,
  (dy, dx) => Math.abs(dy) <= 6 && Math.abs(dx) <= 6,
  (dy, dx) => { const r = Math.hypot(dy, dx); return r >= 5 && r <= 8; },
  (dy, dx) => Math.abs(dy - dx) <= 1.5 && Math.abs(dy) <= 8,
  (dy, dx) => Math.abs(dy + dx) <= 1.5 && Math.abs(dy) <= 8,
  (dy, dx) => (Math.abs(dy) <= 1.5 || Math.abs(dx) <= 1.5) && Math.abs(dy) <= 8 && Math.abs(dx) <= 8,
  (dy, dx) => Math.abs(dy) <= 8 && Math.abs(dx) <= 8 && ((Math.floor((dy + 8) / 4) + Math.floor((dx + 8) / 4)) % 2 === 0),
  (dy, dx) => Math.hypot(dy + 4, dx + 4) <= 3 || Math.hypot(dy - 4, dx - 4) <= 3,
  (dy, dx) => dy <= 7 && dy >= -7 && Math.abs(dx) <= (dy + 7) / 2,
];

const clampByte = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function drawImage(out: Uint8Array, offset: number, label: number, rng: Rng, difficulty: number): void {
  const noise = 12 + 90 * difficulty;
  const maxShift = Math.round(1 + 7 * difficulty);
  const cy = 16 + rng.int(2 * maxShift + 1) - maxShift;
  const cx = 16 + rng.int(2 * maxShift + 1) - maxShift;
  const background = [30 + rng.int(40), 30 + rng.int(40), 30 + rng.int(40)];
  const colorJitter = 60 * difficulty;
  const color = CLASS_COLORS[label]!.map((v) => v + (rng.next() * 2 - 1) * colorJitter);
  const inShape = SHAPES[label]!;
  for (let y = 0; y < CIFAR_SIDE; y++) {
    for (let x = 0; x < CIFAR_SIDE; x++) {
      const base = inShape(y - cy, x - cx) ? color : background;
      const p = offset + (y * CIFAR_SIDE + x) * CIFAR_CHANNELS;
      for (let c = 0; c < CIFAR_CHANNELS; c++) out[p + c] = clampByte(base[c]! + (rng.next() * 2 - 1) * noise);
    }
  }
}

/** Balanced labels (round robin, then shuffled) and their images, NHWC. */
export function generateSyntheticSet(count: number, rng: Rng, difficulty: number): ImageSet {
  const labelOrder = shuffleInPlace(Array.from({ length: count }, (_, i) => i % 10), rng);
  const size = CIFAR_SIDE * CIFAR_SIDE * CIFAR_CHANNELS;
  const images = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) drawImage(images, i * size, labelOrder[i]!, rng, difficulty);
  return { images, labels: Uint8Array.from(labelOrder), count, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: CIFAR_CHANNELS };
}

function sliceSet(set: ImageSet, start: number, end: number): ImageSet {
  const size = set.height * set.width * set.channels;
  return { ...set, images: set.images.subarray(start * size, end * size), labels: set.labels.subarray(start, end), count: end - start };
}

/**
 * The synthetic dataset as CIFAR-10 batch files (training images split over the five batches),
 * i.e. exactly what fetch would find in `cifar-10-batches-bin/`.
 */
export function syntheticCifarFiles(options: SyntheticOptions): Map<string, Uint8Array> {
  if (!Number.isInteger(options.train) || options.train < CIFAR_TRAIN_FILES.length || !Number.isInteger(options.test) || options.test < 1) {
    throw new RangeError(`synthetic data needs at least ${CIFAR_TRAIN_FILES.length} training and 1 test image, got ${options.train} / ${options.test}`);
  }
  if (!(options.difficulty >= 0 && options.difficulty <= 1)) {
    throw new RangeError(`synthetic difficulty must be within 0..1, got ${options.difficulty}`);
  }
  const train = generateSyntheticSet(options.train, createRng(deriveSeed(options.seed, 'synthetic-train')), options.difficulty);
  const test = generateSyntheticSet(options.test, createRng(deriveSeed(options.seed, 'synthetic-test')), options.difficulty);
  const files = new Map<string, Uint8Array>();
  const batches = CIFAR_TRAIN_FILES.length;
  CIFAR_TRAIN_FILES.forEach((name, b) => {
    const start = Math.floor((b * train.count) / batches);
    const end = Math.floor(((b + 1) * train.count) / batches);
    files.set(name, encodeCifarBatch(sliceSet(train, start, end)));
  });
  files.set(CIFAR_TEST_FILE, encodeCifarBatch(test));
  return files;
}

/** Generates the synthetic dataset and parses it back through the CIFAR-10 reader. */
export function generateSynthetic(options: SyntheticOptions): CifarData {
  return cifarFromFiles(syntheticCifarFiles(options), SYNTHETIC_CLASSES.join('\n'));
}
