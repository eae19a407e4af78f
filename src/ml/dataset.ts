import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** CIFAR-10 class names, index = label. */
export const CIFAR10_CLASSES = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
] as const;

/**
 * A labelled image set in memory. Pixels are bytes in NHWC order (image, row, column, channel),
 * the layout TF.js tensors use, so a batch becomes a tensor without reshuffling.
 */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

export type Split = 'train' | 'test';

/** `dataset.json` in a dataset directory (output of fetch and poison). */
export interface DatasetInfo {
  name: string;
  classes: string[];
  height: number;
  width: number;
  channels: number;
  splits: Partial<Record<Split, { count: number }>>;
}

export function imageSize(set: Pick<ImageSet, 'height' | 'width' | 'channels'>): number {
  return set.height * set.width * set.channels;
}

/**
 * A dataset directory stores each split as two raw files (`<split>.images.u8`, `<split>.labels.u8`)
 * plus `dataset.json`: loading is one read per file, no decoding, which is what makes later stages fast.
 */
export async function writeDataset(dir: string, info: Omit<DatasetInfo, 'splits'>, splits: Partial<Record<Split, ImageSet>>): Promise<DatasetInfo> {
  await mkdir(dir, { recursive: true });
  const full: DatasetInfo = { ...info, splits: {} };
  for (const [split, set] of Object.entries(splits) as [Split, ImageSet][]) {
    if (set.images.length !== set.count * imageSize(set) || set.labels.length !== set.count) {
      throw new Error(`dataset split ${split}: ${set.count} images do not match buffer sizes`);
    }
    await writeFile(join(dir, `${split}.images.u8`), set.images);
    await writeFile(join(dir, `${split}.labels.u8`), set.labels);
    full.splits[split] = { count: set.count };
  }
  await writeFile(join(dir, 'dataset.json'), JSON.stringify(full, null, 2) + '\n');
  return full;
}

export async function readDatasetInfo(dir: string): Promise<DatasetInfo> {
  return JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8')) as DatasetInfo;
}

export async function readSplit(dir: string, split: Split): Promise<ImageSet> {
  const info = await readDatasetInfo(dir);
  const meta = info.splits[split];
  if (!meta) throw new Error(`dataset in ${dir} has no ${split} split`);
  const images = new Uint8Array(await readFile(join(dir, `${split}.images.u8`)));
  const labels = new Uint8Array(await readFile(join(dir, `${split}.labels.u8`)));
  const set: ImageSet = { images, labels, count: meta.count, height: info.height, width: info.width, channels: info.channels };
  if (images.length !== set.count * imageSize(set) || labels.length !== set.count) {
    throw new Error(`dataset in ${dir}: ${split} files do not match dataset.json (${set.count} images)`);
  }
  return set;
}
