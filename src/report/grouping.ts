import type { MatrixPoint } from '../pipeline/types.js';
import type { InstanceRef } from './instances.js';
import { describeMatrix, LABEL_SEPARATOR, varyingKeys } from './labels.js';
import { CATEGORY_PALETTE, WIDE_PALETTE } from './theme.js';

/**
 * How the paper-scale figures arrange instances: one **group** per network (a cluster of bars, a
 * small-multiple panel) and one **condition** per bar inside it (clean model, backdoored, after
 * transfer-retrain; or the other varying matrix values). Both labels are short and made of matrix
 * values and stage names, so they are printed in full; the instance id goes into tooltips.
 */
export interface Arrangement {
  /** Axis / header title for the groups, e.g. `Model`. */
  groupTitle: string;
  /** Group labels in first-seen order. */
  groups: string[];
  /** Condition labels in first-seen order. */
  conditions: string[];
  groupOf: ReadonlyMap<string, string>;
  conditionOf: ReadonlyMap<string, string>;
}

/** The matrix key that names the network; the figures group by it when instances have it. */
export const GROUP_KEY = 'model';

/** What arranging needs of an instance: its identity, and for a search whether it was targeted. */
export type Arrangeable = InstanceRef & { metrics?: { attemptedTargeted: number } };

/** A one-pixel search attacked every other class (targeted) rather than only the true one. */
export function isTargetedSearch(instance: Arrangeable): boolean {
  return instance.kind === 'one-pixel-search' && (instance.metrics?.attemptedTargeted ?? 0) > 0;
}

/**
 * What a stage id says beyond what every stage of its kind says: `evaluate-clean` among
 * evaluate-clean / evaluate-backdoored gives `clean`. A search's mode word is dropped too
 * (`search-clean-targeted` gives `clean`), because the figures show the mode as its own panel.
 */
function stageConditions(instances: readonly Arrangeable[]): Map<string, string> {
  const wordsOf = (instance: Arrangeable): string[] => {
    let words = instance.stage.split('-');
    if (instance.kind === 'one-pixel-search') {
      const mode = isTargetedSearch(instance) ? ['targeted'] : ['non', 'targeted'];
      const at = words.findIndex((_, i) => mode.every((word, k) => words[i + k] === word));
      if (at >= 0) words = [...words.slice(0, at), ...words.slice(at + mode.length)];
      else words = words.filter((word) => word !== 'nontargeted' && word !== 'untargeted');
    }
    return words;
  };
  const result = new Map<string, string>();
  const kinds = new Set(instances.map((i) => i.kind));
  for (const kind of kinds) {
    const ofKind = instances.filter((i) => i.kind === kind);
    const words = new Map(ofKind.map((i) => [i.id, wordsOf(i)]));
    const shared = [...new Set([...words.values()].flat())].filter((word) => [...words.values()].every((list) => list.includes(word)));
    for (const instance of ofKind) result.set(instance.id, words.get(instance.id)!.filter((word) => !shared.includes(word)).join('-'));
  }
  return result;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * Groups and conditions for some instances. The group is the `model` matrix value; without one,
 * what tells the stages apart (evaluate-lenet5 / evaluate-cnn gives `lenet5` / `cnn`); else the first
 * varying key. Matrix keys with one value per group (a model's width) join the group label; the
 * rest, and the stage-derived condition, make the condition label. `exclude` leaves keys out
 * entirely (the row and column of a placement map are axes, not labels).
 */
export function arrange(instances: readonly Arrangeable[], exclude: readonly string[] = []): Arrangement {
  const points = instances.map((i) => i.matrix);
  const keys = varyingKeys(points).filter((key) => !exclude.includes(key));
  const stageWords = stageConditions(instances);
  const stagesVary = new Set(stageWords.values()).size > 1;

  let groupKeys: string[] = [];
  let groupByStage = false;
  if (keys.includes(GROUP_KEY)) groupKeys = [GROUP_KEY];
  else if (stagesVary) groupByStage = true;
  else if (keys.length > 0) groupKeys = [keys[0]!];

  const baseGroup = (i: Arrangeable): string => (groupByStage ? stageWords.get(i.id)! : describeMatrix(i.matrix, groupKeys));
  const rest = keys.filter((key) => !groupKeys.includes(key));
  const determined = rest.filter((key) => determinedBy(instances, baseGroup, key));
  // A key fixed by the group and the stage together (a search's image count per model and mode) is
  // a setting, not a condition: it stays in the instance id (tooltips) rather than splitting bars.
  const byGroupAndStage = (i: Arrangeable): string => `${baseGroup(i)}\u0000${i.stage}`;
  const conditionKeys = rest.filter((key) => !determined.includes(key) && !(stagesVary && determinedBy(instances, byGroupAndStage, key)));

  const groupOf = new Map<string, string>();
  const conditionOf = new Map<string, string>();
  for (const instance of instances) {
    const group = [baseGroup(instance), describeMatrix(instance.matrix, determined)].filter((part) => part !== '').join(LABEL_SEPARATOR);
    const parts = [groupByStage || !stagesVary ? '' : stageWords.get(instance.id)!, describeMatrix(instance.matrix, conditionKeys)];
    const condition = parts.filter((part) => part !== '').join(LABEL_SEPARATOR);
    groupOf.set(instance.id, group || 'all');
    conditionOf.set(instance.id, condition || instance.stage);
  }
  const groupTitle = groupByStage ? 'Model' : groupKeys.length > 0 ? capitalise(groupKeys[0]!) : '';
  return {
    groupTitle,
    groups: [...new Set(instances.map((i) => groupOf.get(i.id)!))],
    conditions: [...new Set(instances.map((i) => conditionOf.get(i.id)!))],
    groupOf,
    conditionOf,
  };
}

/** A key that takes at most one value within each group (e.g. width given the model). */
function determinedBy(instances: readonly Arrangeable[], groupOf: (i: Arrangeable) => string, key: string): boolean {
  const seen = new Map<string, string>();
  for (const instance of instances) {
    if (!(key in instance.matrix)) continue;
    const group = groupOf(instance);
    const value = JSON.stringify((instance.matrix as MatrixPoint)[key]);
    if (seen.has(group) && seen.get(group) !== value) return false;
    seen.set(group, value);
  }
  return true;
}

/**
 * One colour per condition across every figure of a report: the first condition asked for gets
 * the first palette colour, and asking again gives the same colour, so "clean" is the same blue in
 * the backdoor figures and in the search figures.
 */
export class ConditionColours {
  private readonly assigned = new Map<string, string>();

  colour(condition: string): string {
    let colour = this.assigned.get(condition);
    if (colour === undefined) {
      const palette = [...CATEGORY_PALETTE, ...WIDE_PALETTE];
      colour = palette[this.assigned.size % palette.length]!;
      this.assigned.set(condition, colour);
    }
    return colour;
  }

  /** A Vega-Lite colour scale for these conditions, in this order. */
  scale(conditions: readonly string[]): { domain: string[]; range: string[] } {
    return { domain: [...conditions], range: conditions.map((c) => this.colour(c)) };
  }
}
