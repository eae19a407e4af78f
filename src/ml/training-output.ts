import type * as tf from '@tensorflow/tfjs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainingHistory } from './artifacts.js';
import { saveModel } from './model-io.js';
import type { EpochTiming, TrainProgress } from './train.js';

/**
 * What train and transfer-retrain leave in their output directory:
 *   model/        TF.js Layers model (model.json + weights.bin)
 *   history.json  TrainingHistory, one record per epoch (no timing: see EpochTimings)
 *   train.json    resolved options, model name, parameter counts
 */
export async function writeTrainingOutputs(outDir: string, model: tf.LayersModel, history: TrainingHistory, info: Record<string, unknown>): Promise<void> {
  await saveModel(model, join(outDir, 'model'));
  await writeFile(join(outDir, 'history.json'), JSON.stringify(history, null, 2) + '\n');
  await writeFile(join(outDir, 'train.json'), JSON.stringify(info, null, 2) + '\n');
}

export function parameterCounts(model: tf.LayersModel): { parameters: number; trainableParameters: number } {
  const trainable = model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  return { parameters: model.countParams(), trainableParameters: trainable };
}

export function progressMessage(p: TrainProgress): string {
  return `epoch ${p.epoch}/${p.epochs} batch ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} acc ${(100 * p.accuracy).toFixed(1)}% ${Math.round(p.imagesPerSecond)} img/s`;
}

export function progressFraction(p: TrainProgress): number {
  return Math.min(1, (p.epoch - 1 + p.batch / p.batches) / p.epochs);
}

/**
 * Collects the timing of the epochs trained in this process (resumed epochs ran elsewhere) for the
 * stage's metrics and log: timing stays out of the content-addressed outputs.
 */
export class EpochTimings {
  private readonly epochs: EpochTiming[] = [];
  add(timing: EpochTiming): void {
    this.epochs.push(timing);
  }
  /** `imagesPerSecond` of the last epoch, `trainSeconds` summed over the epochs run here. */
  metrics(): { [key: string]: number } {
    const last = this.epochs[this.epochs.length - 1];
    if (!last) return {};
    return { imagesPerSecond: last.imagesPerSecond, trainSeconds: this.epochs.reduce((sum, e) => sum + e.seconds, 0) };
  }
}

/** Stage metrics from a finished history (last epoch's numbers) and this process's timing. */
export function historyMetrics(history: TrainingHistory, timings?: EpochTimings): { [key: string]: number } {
  const last = history.epochs[history.epochs.length - 1];
  if (!last) return { epochs: 0 };
  const metrics: { [key: string]: number } = {
    finalLoss: last.loss, finalAccuracy: last.accuracy, epochs: history.epochs.length, ...timings?.metrics(),
  };
  if (last.valAccuracy !== undefined) metrics.valAccuracy = last.valAccuracy;
  if (last.valLoss !== undefined) metrics.valLoss = last.valLoss;
  return metrics;
}
