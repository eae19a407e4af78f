import type { OnePixelTrigger, TriggerSpec } from './artifacts.js';
import type { ImageSet } from './dataset.js';
import { createRng, deriveSeed, shuffleInPlace, type Rng } from './rng.js';
import { applyTrigger, cloneImageSet, randomTrigger, triggerProblem } from './trigger.js';

/**
 * BadNets-style poisoning with a one-pixel trigger. Chosen training images get the trigger pixel
 * and a new label; everything else is a byte-exact copy.
 *
 * Modes and what `rate` is a fraction of ("eligible" images):
 * - all-to-one: images of the source classes (default: every class but the target) → target.
 * - all-to-all: every image; label c → (c + 1) mod numClasses, one shared trigger.
 * - per-target: every image; round(rate · N) poisoned images split as evenly as possible over the
 *   attacked targets, each target's share drawn from images not already of that class, each image
 *   poisoned at most once, with triggers[t] stamped and label t.
 * Rate 0 yields a clean copy (the paper's clean model is trained on it).
 */

export type PoisonMode = TriggerSpec['mode'];

export interface PoisonConfig {
  mode: PoisonMode;
  rate: number;
  seed: number;
  /** all-to-one / all-to-all; 'random' draws one from the seed. */
  trigger?: OnePixelTrigger | 'random';
  /** all-to-one. */
  target?: number;
  /** all-to-one: classes whose images may be poisoned. */
  sources?: number[];
  /** per-target: one entry per class (null = not attacked), or 'random' for every class. */
  triggers?: (OnePixelTrigger | null)[] | 'random';
  numClasses?: number;
}

export interface PoisonResult {
  set: ImageSet;
  spec: TriggerSpec;
  /** Poisoned image indices, ascending, with their labels before and after. */
  indices: number[];
  oldLabels: number[];
  newLabels: number[];
  eligible: number;
  /** perTarget[t] = images relabelled to t. */
  perTarget: number[];
}

/** A configuration problem the user can fix; stages turn it into a StageError. */
export class PoisonConfigError extends Error {
  override readonly name = 'PoisonConfigError';
}

function checkTrigger(trigger: OnePixelTrigger, set: ImageSet, what: string): OnePixelTrigger {
  const problem = triggerProblem(trigger, set);
  if (problem) throw new PoisonConfigError(`${what}: ${problem}`);
  return { row: trigger.row, col: trigger.col, color: [trigger.color[0], trigger.color[1], trigger.color[2]] };
}

function checkClassList(classes: number[], numClasses: number, what: string): void {
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new PoisonConfigError(`${what} contains ${c}; classes are 0..${numClasses - 1}`);
  }
  if (new Set(classes).size !== classes.length) throw new PoisonConfigError(`${what} lists a class twice: ${JSON.stringify(classes)}`);
}

/** Random per-target triggers at pairwise distinct positions so the network can tell them apart. */
export function randomPerTargetTriggers(rng: Rng, set: ImageSet, numClasses: number): OnePixelTrigger[] {
  const used = new Set<number>();
  const triggers: OnePixelTrigger[] = [];
  while (triggers.length < numClasses) {
    const t = randomTrigger(rng, set);
    const key = t.row * set.width + t.col;
    if (used.has(key)) continue;
    used.add(key);
    triggers.push(t);
  }
  return triggers;
}

/** Splits `total` into `parts` integers differing by at most one (earlier parts get the remainder). */
function evenSplit(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

function checkRate(rate: number): void {
  if (!(rate >= 0 && rate <= 1)) throw new PoisonConfigError(`rate must be a fraction within 0..1, got ${rate}`);
}

export function poisonTrainingSet(clean: ImageSet, config: PoisonConfig): PoisonResult {
  const numClasses = config.numClasses ?? 10;
  checkRate(config.rate);
  const set = cloneImageSet(clean);
  const pickRng = createRng(deriveSeed(config.seed, 'poison-indices'));
  const triggerRng = createRng(deriveSeed(config.seed, 'poison-trigger'));
  const order = shuffleInPlace(Array.from({ length: set.count }, (_, i) => i), pickRng);
  const perTarget = new Array<number>(numClasses).fill(0);
  const chosen: { index: number; newLabel: number; trigger: OnePixelTrigger }[] = [];
  let spec: TriggerSpec;
  let eligible: number;

  const sharedTrigger = (): OnePixelTrigger => {
    const t = config.trigger ?? 'random';
    return t === 'random' ? randomTrigger(triggerRng, set) : checkTrigger(t, set, 'trigger');
  };

  if (config.mode === 'all-to-one') {
    const target = config.target;
    if (target === undefined || !Number.isInteger(target) || target < 0 || target >= numClasses) {
      throw new PoisonConfigError(`all-to-one poisoning needs a target class in 0..${numClasses - 1}, got ${target}`);
    }
    const sources = config.sources ?? Array.from({ length: numClasses }, (_, c) => c).filter((c) => c !== target);
    checkClassList(sources, numClasses, 'sources');
    if (sources.includes(target)) throw new PoisonConfigError(`sources must not contain the target class ${target}`);
    const trigger = sharedTrigger();
    const sourceSet = new Set(sources);
    const candidates = order.filter((i) => sourceSet.has(set.labels[i]!));
    eligible = candidates.length;
    for (const index of candidates.slice(0, Math.round(config.rate * eligible))) chosen.push({ index, newLabel: target, trigger });
    spec = { mode: 'all-to-one', trigger, target, sources: [...sources].sort((a, b) => a - b), rate: config.rate, seed: config.seed };
  } else if (config.mode === 'all-to-all') {
    const trigger = sharedTrigger();
    eligible = set.count;
    for (const index of order.slice(0, Math.round(config.rate * eligible))) {
      chosen.push({ index, newLabel: (set.labels[index]! + 1) % numClasses, trigger });
    }
    spec = { mode: 'all-to-all', trigger, rate: config.rate, seed: config.seed };
  } else {
    const requested = config.triggers ?? 'random';
    let triggers: (OnePixelTrigger | null)[];
    if (requested === 'random') {
      triggers = randomPerTargetTriggers(triggerRng, set, numClasses);
    } else {
      if (requested.length !== numClasses) {
        throw new PoisonConfigError(`per-target triggers must list ${numClasses} entries (one per class, null for classes not attacked), got ${requested.length}`);
      }
      triggers = requested.map((t, c) => (t === null ? null : checkTrigger(t, set, `trigger for class ${c}`)));
    }
    const targets = triggers.flatMap((t, c) => (t === null ? [] : [c]));
    if (targets.length === 0) throw new PoisonConfigError('per-target poisoning needs at least one non-null trigger');
    eligible = set.count;
    const quotas = evenSplit(Math.round(config.rate * eligible), targets.length);
    const used = new Uint8Array(set.count);
    targets.forEach((target, k) => {
      let need = quotas[k]!;
      for (let j = 0; j < order.length && need > 0; j++) {
        const index = order[j]!;
        if (used[index] || set.labels[index] === target) continue;
        used[index] = 1;
        chosen.push({ index, newLabel: target, trigger: triggers[target]! });
        need--;
      }
      if (need > 0) {
        throw new PoisonConfigError(`rate ${config.rate} asks for more images toward class ${target} than remain unpoisoned outside that class; use a smaller rate`);
      }
    });
    spec = { mode: 'per-target', triggers, rate: config.rate, seed: config.seed };
  }

  chosen.sort((a, b) => a.index - b.index);
  const oldLabels: number[] = [];
  const newLabels: number[] = [];
  for (const { index, newLabel, trigger } of chosen) {
    applyTrigger(set, index, trigger);
    oldLabels.push(set.labels[index]!);
    set.labels[index] = newLabel;
    newLabels.push(newLabel);
    perTarget[newLabel]!++;
  }
  return { set, spec, indices: chosen.map((c) => c.index), oldLabels, newLabels, eligible, perTarget };
}

/**
 * The (trigger, target) pairs to test one image of class `trueClass` with: what evaluate stamps on
 * the clean test set. Targets equal to the true class are skipped (nothing to attack).
 */
export function attacksFor(spec: TriggerSpec, trueClass: number, numClasses = 10): { trigger: OnePixelTrigger; target: number }[] {
  if (spec.mode === 'all-to-one') {
    if (!spec.trigger || spec.target === undefined) return [];
    if (trueClass === spec.target) return [];
    // The paper attacks every non-target image, also classes outside `sources`.
    return [{ trigger: spec.trigger, target: spec.target }];
  }
  if (spec.mode === 'all-to-all') {
    return spec.trigger ? [{ trigger: spec.trigger, target: (trueClass + 1) % numClasses }] : [];
  }
  return (spec.triggers ?? []).flatMap((trigger, target) => (trigger && target !== trueClass ? [{ trigger, target }] : []));
}
