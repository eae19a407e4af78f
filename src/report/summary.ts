import type { EvaluatedInstance, TrainedInstance } from './instances.js';

/** Final-epoch and whole-run figures of one training history, for tables and CSV. */
export interface TrainingSummary {
  epochs: number;
  finalLoss?: number;
  finalAccuracy?: number;
  finalValLoss?: number;
  finalValAccuracy?: number;
  bestValAccuracy?: number;
  seconds: number;
  meanImagesPerSecond?: number;
}

const finite = (v: number | undefined): number | undefined => (v !== undefined && Number.isFinite(v) ? v : undefined);

/** Summarises a training history; non-finite values (diverged epochs) are left out, not averaged in. */
export function summariseTraining(instance: TrainedInstance): TrainingSummary {
  const epochs = instance.history.epochs;
  const last = epochs[epochs.length - 1];
  const valAccuracies = epochs.map((e) => finite(e.valAccuracy)).filter((v): v is number => v !== undefined);
  const speeds = epochs.map((e) => finite(e.imagesPerSecond)).filter((v): v is number => v !== undefined);
  const summary: TrainingSummary = {
    epochs: epochs.length,
    seconds: epochs.reduce((sum, e) => sum + (finite(e.seconds) ?? 0), 0),
  };
  const set = <K extends keyof TrainingSummary>(key: K, value: TrainingSummary[K] | undefined) => {
    if (value !== undefined) summary[key] = value;
  };
  set('finalLoss', finite(last?.loss));
  set('finalAccuracy', finite(last?.accuracy));
  set('finalValLoss', finite(last?.valLoss));
  set('finalValAccuracy', finite(last?.valAccuracy));
  set('bestValAccuracy', valAccuracies.length > 0 ? Math.max(...valAccuracies) : undefined);
  set('meanImagesPerSecond', speeds.length > 0 ? speeds.reduce((a, b) => a + b, 0) / speeds.length : undefined);
  return summary;
}

function csvField(value: string | number | boolean | null | undefined): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * `summary.csv`: one row per input instance (evaluate / search rows carry attack metrics, train rows
 * carry the training summary), one column per matrix key; numbers at full precision, empty cells
 * where a value does not apply. RFC 4180 quoting, `\n` line ends.
 */
export function summaryCsv(
  evaluated: readonly EvaluatedInstance[],
  trained: readonly TrainedInstance[],
  labels: ReadonlyMap<string, string>,
): string {
  const all = [...evaluated, ...trained];
  const matrixKeys = [...new Set(all.flatMap((i) => Object.keys(i.matrix)))].sort();
  const metricColumns = [
    'clean_accuracy', 'targeted_success_rate', 'non_targeted_success_rate', 'targeted_confidence',
    'non_targeted_confidence', 'attempted_targeted', 'attempted_images',
    'epochs', 'final_loss', 'final_accuracy', 'final_val_loss', 'final_val_accuracy', 'best_val_accuracy',
    'train_seconds', 'mean_images_per_second',
  ] as const;
  type Column = (typeof metricColumns)[number];
  const header = ['instance', 'stage', 'kind', 'label', ...matrixKeys, ...metricColumns];
  const rows = all.map((instance) => {
    const values: Partial<Record<Column, number>> = {};
    if ('metrics' in instance) {
      const m = instance.metrics;
      Object.assign(values, {
        clean_accuracy: m.cleanAccuracy,
        targeted_success_rate: m.targetedSuccessRate,
        non_targeted_success_rate: m.nonTargetedSuccessRate,
        targeted_confidence: m.targetedConfidence,
        non_targeted_confidence: m.nonTargetedConfidence,
        attempted_targeted: m.attemptedTargeted,
        attempted_images: m.attemptedImages,
      });
    } else {
      const s = summariseTraining(instance);
      Object.assign(values, {
        epochs: s.epochs,
        final_loss: s.finalLoss,
        final_accuracy: s.finalAccuracy,
        final_val_loss: s.finalValLoss,
        final_val_accuracy: s.finalValAccuracy,
        best_val_accuracy: s.bestValAccuracy,
        train_seconds: s.seconds,
        mean_images_per_second: s.meanImagesPerSecond,
      });
    }
    return [
      instance.id, instance.stage, instance.kind, labels.get(instance.id) ?? instance.id,
      ...matrixKeys.map((k) => instance.matrix[k]),
      ...metricColumns.map((c) => values[c]),
    ].map(csvField).join(',');
  });
  return [header.map(csvField).join(','), ...rows].join('\n') + '\n';
}
