/**
 * Memory over full training epochs (issue #3, item 5): LeNet5 on a 50,000-image CIFAR-sized training
 * set for three epochs through the same trainModel the train stage uses, on the default backend.
 * Prints resident set size and TF.js tensor count at every epoch end and the largest RSS seen; the
 * growth from the end of epoch 1 to the end of epoch 3 is the number to watch (a leak of one batch's
 * tensors per step would add gigabytes). Runs at the engine's default thread count (all cores, or
 * $BDLAB_THREADS). Runs standalone (`node dist/bench/memory.js`) or from index.ts.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/engine/index.js';
import type { ImageSet } from '../src/ml/dataset.js';
import { buildModel } from '../src/ml/models/index.js';
import { trainModel } from '../src/ml/train.js';

const IMAGES = 50_000;
const EPOCHS = 3;
const MB = 1024 * 1024;

function syntheticSet(count: number): ImageSet {
  const images = new Uint8Array(count * 32 * 32 * 3);
  const labels = new Uint8Array(count);
  let s = 1;
  for (let i = 0; i < images.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    images[i] = s >>> 24;
  }
  for (let i = 0; i < count; i++) labels[i] = i % 10;
  return { images, labels, count, height: 32, width: 32, channels: 3 };
}

export async function main(): Promise<void> {
  const out = (line: string): void => { process.stdout.write(line + '\n'); };
  const info = await initEngine('auto');
  const set = syntheticSet(IMAGES);
  const model = buildModel('lenet5', { width: 1 });
  const rss = (): number => process.memoryUsage().rss / MB;
  let peak = rss();
  out(`LeNet5, ${IMAGES.toLocaleString('en-US')} images x ${EPOCHS} epochs, batch 64, backend ${info.name}${info.nativeKernels.length ? ` + native kernels, ${info.threads} thread(s)` : ''}; RSS before training ${rss().toFixed(0)} MB`);
  const atEpoch: { rss: number; tensors: number }[] = [];
  await trainModel(model, set, {
    epochs: EPOCHS, batchSize: 64, optimizer: 'adam', learningRate: 1e-3, seed: 1,
    onProgress: () => { peak = Math.max(peak, rss()); },
    onEpoch: (r, timing) => {
      atEpoch.push({ rss: rss(), tensors: tf.memory().numTensors });
      out(`  epoch ${r.epoch}: ${timing.imagesPerSecond.toFixed(0)} images/s, RSS ${rss().toFixed(0)} MB, ${tf.memory().numTensors} tensors`);
    },
  });
  const first = atEpoch[0]!;
  const last = atEpoch[atEpoch.length - 1]!;
  out(`  peak RSS ${peak.toFixed(0)} MB; epoch 1 -> ${EPOCHS}: RSS ${last.rss - first.rss >= 0 ? '+' : ''}${(last.rss - first.rss).toFixed(0)} MB, tensors ${last.tensors - first.tensors >= 0 ? '+' : ''}${last.tensors - first.tensors}`);
  model.dispose();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench memory failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
