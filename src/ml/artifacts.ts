/**
 * File formats exchanged between stages. Stage outputs are directories; these are the JSON files
 * inside them that downstream stages (evaluate, plot, one-pixel search) read.
 */

/** `trigger.json` in a poison output. Per-target mode has one trigger per target class. */
export interface OnePixelTrigger {
  row: number;
  col: number;
  /** RGB bytes 0..255. */
  color: [number, number, number];
}
export interface TriggerSpec {
  mode: 'all-to-one' | 'all-to-all' | 'per-target';
  /** all-to-one: the trigger and its target class. */
  trigger?: OnePixelTrigger;
  target?: number;
  /** all-to-one: source classes that were poisoned (all others than the target unless listed). */
  sources?: number[];
  /** per-target: triggers[t] sends an image to class t (null for classes not attacked). */
  triggers?: (OnePixelTrigger | null)[];
  rate: number;
  seed: number;
}

/** `history.json` in a train / transfer-retrain output: one entry per finished epoch. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  learningRate: number;
  /**
   * Only in histories written before timing moved to the stage metrics (bdlab 0.1 outputs still in
   * caches): timing in a content-addressed file made every rebuild look like a change downstream.
   */
  seconds?: number;
  imagesPerSecond?: number;
}
export interface TrainingHistory {
  model: string;
  epochs: EpochRecord[];
}

/**
 * `metrics.json` written by evaluate and by the one-pixel search: the metrics of Su et al.
 * Rates are fractions in 0..1.
 */
export interface AttackMetrics {
  /** Clean test accuracy (evaluate only). */
  cleanAccuracy?: number;
  perClassAccuracy?: number[];
  /** Fraction of attempted (image, target) pairs classified as the target. */
  targetedSuccessRate: number;
  /** Fraction of attacked images classified as anything but their true class. */
  nonTargetedSuccessRate: number;
  /** Mean probability of the reached class over successful attempts (targeted / non-targeted). */
  targetedConfidence: number;
  nonTargetedConfidence: number;
  /** histogram[k] = number of images for which exactly k of the other classes were reached (k = 0..9). */
  targetClassHistogram: number[];
  /** classPairs[original][target] = number of successful attacks from original to target class. */
  classPairs: number[][];
  /** Counts behind the rates, so reports can show n. */
  attemptedTargeted: number;
  attemptedImages: number;
}
