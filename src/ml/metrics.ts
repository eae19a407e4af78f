import type { AttackMetrics } from './artifacts.js';

/**
 * Attack metrics of Su et al., "One pixel attack for fooling deep neural networks", computed from
 * individual attack attempts so that the backdoor evaluation (trigger pixel) and the adversarial
 * one-pixel search report exactly the same quantities.
 */

/** One attack attempt on one test image toward one class (targeted) — or the non-targeted outcome when target === null. */
export interface AttackOutcome {
  /** Index of the attacked test image; attempts on the same image share it. */
  image: number;
  trueClass: number;
  target: number | null;
  predicted: number;
  /** Probability the model gave to `predicted`. */
  probability: number;
}

const DEFAULT_CLASSES = 10;

interface ImageTally {
  trueClass: number;
  hasTargetedAttempt: boolean;
  /** Distinct targets reached by targeted attempts. */
  targetsReached: Set<number>;
  /** Distinct classes (≠ true class) reached by non-targeted attempts. */
  classesReachedUntargeted: Set<number>;
  /** Successful non-targeted attempts, kept until we know whether the image had targeted attempts. */
  untargetedSuccesses: number[];
  /** Highest probability among all attempts that left the true class (targeted or not). */
  bestMisclassifiedProbability: number;
  misclassified: boolean;
}

function checkClass(value: number, what: string, numClasses: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
    throw new RangeError(`attack outcome: ${what} ${value} is not a class index in 0..${numClasses - 1}`);
  }
}

function zeros(n: number): number[] {
  return new Array<number>(n).fill(0);
}

/**
 * Aggregates attempts into the paper's metrics:
 * - targetedSuccessRate: over targeted attempts (target !== null and target !== trueClass),
 *   the fraction with predicted === target. Attempts "toward" the true class are ignored.
 * - nonTargetedSuccessRate: over distinct attacked images, the fraction for which SOME attempt
 *   (targeted or not) ended with predicted !== trueClass.
 * - targetedConfidence: mean probability over successful targeted attempts;
 *   nonTargetedConfidence: mean over successful images of the best probability among that
 *   image's misclassifying attempts.
 * - targetClassHistogram[k]: images for which exactly k distinct target classes were reached by
 *   targeted attempts; an image with only non-targeted attempts counts the distinct classes
 *   (≠ true class) its attempts were predicted as. Length numClasses (k = 0..numClasses-1).
 * - classPairs[true][reached]: successful targeted attempts counted at their target; for images with
 *   only non-targeted attempts, each misclassifying attempt is counted at its predicted class. Mixing
 *   both for one image would count the same success twice, hence the "only".
 * With no attempts every rate and confidence is 0 (never NaN), so metrics.json stays valid JSON.
 */
export function aggregateAttackOutcomes(outcomes: AttackOutcome[], numClasses: number = DEFAULT_CLASSES): AttackMetrics {
  const images = new Map<number, ImageTally>();
  const classPairs = Array.from({ length: numClasses }, () => zeros(numClasses));
  let attemptedTargeted = 0;
  let targetedSuccesses = 0;
  let targetedConfidenceSum = 0;

  for (const o of outcomes) {
    checkClass(o.trueClass, 'true class', numClasses);
    checkClass(o.predicted, 'predicted class', numClasses);
    if (o.target !== null) checkClass(o.target, 'target class', numClasses);
    let tally = images.get(o.image);
    if (!tally) {
      tally = {
        trueClass: o.trueClass,
        hasTargetedAttempt: false,
        targetsReached: new Set(),
        classesReachedUntargeted: new Set(),
        untargetedSuccesses: [],
        bestMisclassifiedProbability: 0,
        misclassified: false,
      };
      images.set(o.image, tally);
    } else if (tally.trueClass !== o.trueClass) {
      throw new RangeError(`attack outcome: image ${o.image} has true class ${o.trueClass} and ${tally.trueClass} in different attempts`);
    }

    const leftTrueClass = o.predicted !== o.trueClass;
    if (leftTrueClass) {
      tally.misclassified = true;
      tally.bestMisclassifiedProbability = Math.max(tally.bestMisclassifiedProbability, o.probability);
    }

    if (o.target === null) {
      if (leftTrueClass) {
        tally.classesReachedUntargeted.add(o.predicted);
        tally.untargetedSuccesses.push(o.predicted);
      }
    } else if (o.target !== o.trueClass) {
      tally.hasTargetedAttempt = true;
      attemptedTargeted++;
      if (o.predicted === o.target) {
        targetedSuccesses++;
        targetedConfidenceSum += o.probability;
        tally.targetsReached.add(o.target);
        classPairs[o.trueClass]![o.target]++;
      }
    }
  }

  const targetClassHistogram = zeros(numClasses);
  let nonTargetedSuccesses = 0;
  let nonTargetedConfidenceSum = 0;
  for (const tally of images.values()) {
    if (tally.misclassified) {
      nonTargetedSuccesses++;
      nonTargetedConfidenceSum += tally.bestMisclassifiedProbability;
    }
    if (tally.hasTargetedAttempt) {
      targetClassHistogram[tally.targetsReached.size]++;
    } else {
      targetClassHistogram[tally.classesReachedUntargeted.size]++;
      for (const reached of tally.untargetedSuccesses) classPairs[tally.trueClass]![reached]++;
    }
  }

  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  return {
    targetedSuccessRate: ratio(targetedSuccesses, attemptedTargeted),
    nonTargetedSuccessRate: ratio(nonTargetedSuccesses, images.size),
    targetedConfidence: ratio(targetedConfidenceSum, targetedSuccesses),
    nonTargetedConfidence: ratio(nonTargetedConfidenceSum, nonTargetedSuccesses),
    targetClassHistogram,
    classPairs,
    attemptedTargeted,
    attemptedImages: images.size,
  };
}

/**
 * Overall and per-class accuracy. A class with no examples gets 0 (not NaN) so the result is
 * JSON-safe; callers that care can tell it apart through their own label counts.
 */
export function accuracy(
  predicted: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number = DEFAULT_CLASSES,
): { overall: number; perClass: number[] } {
  if (predicted.length !== labels.length) {
    throw new RangeError(`accuracy: ${predicted.length} predictions for ${labels.length} labels`);
  }
  const correct = zeros(numClasses);
  const total = zeros(numClasses);
  let correctAll = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    checkClass(label, 'label', numClasses);
    total[label]++;
    if (predicted[i] === label) {
      correct[label]++;
      correctAll++;
    }
  }
  return {
    overall: labels.length === 0 ? 0 : correctAll / labels.length,
    perClass: correct.map((c, k) => (total[k] === 0 ? 0 : c / total[k]!)),
  };
}
