/** How a metric's value reads: a rate prints as a percentage, a probability with 3 decimals, ... */
export type MetricUnit = 'rate' | 'probability' | 'count' | 'number';

export interface MetricColumn {
  /** Field of a stage's metrics.json. */
  key: string;
  /** Column heading in compare and diff tables. */
  heading: string;
  unit: MetricUnit;
}

/**
 * The metrics that compare, diff and the multi-run report show, in column order. Evaluate and
 * one-pixel-search report the first six (Su et al.'s measures, for a search row "targeted success"
 * is the search's success); train and transfer-retrain the last three.
 */
export const METRIC_COLUMNS: readonly MetricColumn[] = [
  { key: 'cleanAccuracy', heading: 'clean accuracy', unit: 'rate' },
  { key: 'targetedSuccessRate', heading: 'targeted success', unit: 'rate' },
  { key: 'nonTargetedSuccessRate', heading: 'non-targeted success', unit: 'rate' },
  { key: 'targetedConfidence', heading: 'targeted confidence', unit: 'probability' },
  { key: 'nonTargetedConfidence', heading: 'non-targeted confidence', unit: 'probability' },
  { key: 'images', heading: 'images', unit: 'count' },
  { key: 'finalAccuracy', heading: 'train accuracy', unit: 'rate' },
  { key: 'finalLoss', heading: 'train loss', unit: 'number' },
  { key: 'epochs', heading: 'epochs', unit: 'count' },
];

/** Kinds whose instances are rows of a comparison unless `--stage` picks others: they carry the attack metrics. */
export const RESULT_KINDS: readonly string[] = ['evaluate', 'one-pixel-search'];

/** A metric value for people: `61.09 %`, `0.996`, `10000`, `0.9316`. */
export function formatMetric(value: number, unit: MetricUnit): string {
  if (!Number.isFinite(value)) return String(value);
  switch (unit) {
    case 'rate':
      return `${(value * 100).toFixed(2)} %`;
    case 'probability':
      return value.toFixed(3);
    case 'count':
      return Number.isInteger(value) ? String(value) : value.toFixed(1);
    case 'number':
      return Math.abs(value) >= 1000 || (value !== 0 && Math.abs(value) < 0.001) ? value.toExponential(3) : value.toFixed(4);
  }
}

/** A change B - A: rates in percentage points (`+1.20 pp`), others in their own unit, always signed. */
export function formatDelta(delta: number, unit: MetricUnit): string {
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const size = Math.abs(delta);
  switch (unit) {
    case 'rate':
      return `${sign}${(size * 100).toFixed(2)} pp`;
    case 'probability':
      return `${sign}${size.toFixed(3)}`;
    case 'count':
      return `${sign}${Number.isInteger(size) ? size : size.toFixed(1)}`;
    case 'number':
      return `${sign}${size >= 1000 || (size !== 0 && size < 0.001) ? size.toExponential(3) : size.toFixed(4)}`;
  }
}
