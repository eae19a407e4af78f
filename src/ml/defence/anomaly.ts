/**
 * Neural Cleanse's outlier test over the per-class trigger sizes (Wang et al., S&P 2019, §IV-C):
 * the median absolute deviation, scaled by 1.4826 so that it estimates the standard deviation of
 * normally distributed norms, and each class's anomaly index |norm - median| / MAD. A class is
 * flagged when its trigger is smaller than the median and its index exceeds the threshold (2: a
 * normally distributed norm lies that far out with probability under 5 %).
 */

/** Makes the MAD a consistent estimator of the standard deviation for normal data. */
export const MAD_CONSISTENCY = 1.4826;
/** The paper's threshold on the anomaly index. */
export const ANOMALY_THRESHOLD = 2;

export interface AnomalyReport {
  median: number;
  /** Scaled by MAD_CONSISTENCY. */
  mad: number;
  /** Per class; Infinity where the MAD is 0 and the norm differs from the median. */
  anomalyIndex: number[];
  /** Classes whose norm is below the median with an anomaly index above the threshold, most anomalous first. */
  flagged: number[];
  /** The class below the median with the largest anomaly index (flagged or not); null when none is below it. */
  mostAnomalous: number | null;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function anomalyReport(norms: readonly number[], threshold: number = ANOMALY_THRESHOLD): AnomalyReport {
  const center = median(norms);
  const mad = MAD_CONSISTENCY * median(norms.map((n) => Math.abs(n - center)));
  const anomalyIndex = norms.map((n) => (n === center ? 0 : mad === 0 ? Infinity : Math.abs(n - center) / mad));
  const below = norms.map((_, k) => k).filter((k) => norms[k]! < center).sort((a, b) => anomalyIndex[b]! - anomalyIndex[a]! || a - b);
  return {
    median: center,
    mad,
    anomalyIndex,
    flagged: below.filter((k) => anomalyIndex[k]! > threshold),
    mostAnomalous: below[0] ?? null,
  };
}
