import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from './artifacts.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface OptimizerExtraState {
  /** Adam's running products beta1^t and beta2^t, exactly as float32 values. */
  accBeta1: number;
  accBeta2: number;
}

/**
 * Per-epoch training checkpoints. Layout of a checkpoint directory:
 *   latest.json        { dir: "epoch-0003" } — written last, by rename, so it only ever names a complete checkpoint
 *   epoch-0003/state.json, weights.bin, optimizer.bin
 * A kill at any moment leaves either the previous or the new checkpoint in force, never a torn one.
 * Randomness needs no saved state: each epoch's shuffle and augmentation derive from (seed, epoch).
 */

export interface CheckpointState {
  /** Number of finished epochs. */
  epoch: number;
  /** Fingerprint of the options that must match for a resume to be honest (seed, optimizer, data size...). */
  fingerprint: string;
  history: EpochRecord[];
  /** Optimizer state outside getWeights() (Adam's beta powers); absent in older checkpoints. */
  optimizerState?: OptimizerExtraState;
  weightSpecs: tf.io.WeightsManifestEntry[];
  optimizerSpecs: tf.io.WeightsManifestEntry[];
}

export interface LoadedCheckpoint {
  state: CheckpointState;
  weights: tf.Tensor[];
  optimizerWeights: NamedTensor[];
}

const LATEST = 'latest.json';

async function writeFileAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

function bytesOf(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}

export async function saveCheckpoint(
  dir: string, state: Omit<CheckpointState, 'weightSpecs' | 'optimizerSpecs'>,
  weights: NamedTensor[], optimizerWeights: NamedTensor[],
): Promise<void> {
  const name = `epoch-${String(state.epoch).padStart(4, '0')}`;
  const finalDir = join(dir, name);
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const w = await tf.io.encodeWeights(weights);
  const o = await tf.io.encodeWeights(optimizerWeights);
  await writeFile(join(tmpDir, 'weights.bin'), new Uint8Array(w.data));
  await writeFile(join(tmpDir, 'optimizer.bin'), new Uint8Array(o.data));
  const full: CheckpointState = { ...state, weightSpecs: w.specs, optimizerSpecs: o.specs };
  await writeFile(join(tmpDir, 'state.json'), JSON.stringify(full));
  await rm(finalDir, { recursive: true, force: true });
  await rename(tmpDir, finalDir);
  const previous = await latestDirName(dir);
  await writeFileAtomically(join(dir, LATEST), JSON.stringify({ dir: name }));
  if (previous && previous !== name) await rm(join(dir, previous), { recursive: true, force: true });
}

async function latestDirName(dir: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, LATEST), 'utf8')) as { dir?: unknown };
    return typeof parsed.dir === 'string' ? parsed.dir : undefined;
  } catch {
    return undefined;
  }
}

/** The last complete checkpoint, or undefined when there is none. Caller disposes the tensors. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint | undefined> {
  const name = await latestDirName(dir);
  if (!name) return undefined;
  const base = join(dir, name);
  const state = JSON.parse(await readFile(join(base, 'state.json'), 'utf8')) as CheckpointState;
  const weightMap = tf.io.decodeWeights(bytesOf(await readFile(join(base, 'weights.bin'))), state.weightSpecs);
  const optimizerMap = tf.io.decodeWeights(bytesOf(await readFile(join(base, 'optimizer.bin'))), state.optimizerSpecs);
  return {
    state,
    weights: state.weightSpecs.map((s) => weightMap[s.name]!),
    optimizerWeights: state.optimizerSpecs.map((s) => ({ name: s.name, tensor: optimizerMap[s.name]! })),
  };
}
