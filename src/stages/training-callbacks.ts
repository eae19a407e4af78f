import type { StageContext } from '../common/stage-contract.js';
import type { TrainOptions } from '../ml/train.js';
import { type EpochTimings, progressFraction, progressMessage } from '../ml/training-output.js';

/**
 * The callbacks the training stages (train, transfer-retrain, unlearn) hand to trainModel: progress
 * for the terminal, checkpoint notes and one line per epoch for the log, each epoch's timing for the
 * stage's metrics. One place, so that every training stage's log reads the same.
 */
export function trainingCallbacks(ctx: StageContext, timings: EpochTimings): Pick<TrainOptions, 'log' | 'onProgress' | 'onEpoch'> {
  return {
    log: (line) => ctx.log(line),
    onProgress: (p) => ctx.progress({ message: progressMessage(p), fraction: progressFraction(p), values: { ...p } }),
    onEpoch: (r, timing) => {
      timings.add(timing);
      ctx.log(`epoch ${r.epoch}: loss ${r.loss.toFixed(4)} accuracy ${r.accuracy.toFixed(4)}` +
        (r.valAccuracy !== undefined ? ` val accuracy ${r.valAccuracy.toFixed(4)}` : '') + ` ${Math.round(timing.imagesPerSecond)} img/s ${timing.seconds.toFixed(1)} s`);
    },
  };
}
