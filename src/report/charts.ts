import type { TopLevelSpec } from 'vega-lite';
import { CIFAR10_CLASSES } from '../ml/dataset.js';
import { arrange, ConditionColours } from './grouping.js';
import type { EvaluatedInstance, TrainedInstance } from './instances.js';
import {
  backdoorConfidenceFigure, backdoorSuccessFigure, groupedClassPairsFigure, groupedCleanAccuracyFigure, groupedHistogramFigure,
  groupedTrainingCurvesFigure, searchFigure,
} from './paper-figures.js';
import { placementAccuracyFigure, placementSuccessFigure } from './placement.js';
import { LABEL_SEPARATOR, varyingKeys } from './labels.js';
import { CATEGORY_PALETTE, PANEL_WIDTH, THEME } from './theme.js';

/** One figure: file stem (`figures/<name>.svg`), human title, and the Vega-Lite spec that draws it. */
export interface Figure {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/** Everything the figures are drawn from: checked inputs and one unique label per instance id. */
export interface ReportData {
  evaluated: EvaluatedInstance[];
  trained: TrainedInstance[];
  labels: ReadonlyMap<string, string>;
}

type Row = Record<string, string | number>;

const PERCENT = '.0%';

function withTheme(spec: Omit<TopLevelSpec, 'config' | '$schema'>, title: string, subtitle?: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: subtitle ? { text: title, subtitle } : title,
    config: THEME,
    ...spec,
  } as TopLevelSpec;
}

/** The Okabe–Ito palette has 8 colours; beyond that colours would repeat, so fall back to 20. */
function categoryScale(count: number): { scale?: { scheme: string } } {
  return count > CATEGORY_PALETTE.length ? { scale: { scheme: 'tableau20' } } : {};
}

function capitalise(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/** Class names for an n×n class-pair matrix: CIFAR-10's for n = 10, `class i` otherwise. */
export function classNames(n: number): string[] {
  return n === CIFAR10_CLASSES.length ? [...CIFAR10_CLASSES] : Array.from({ length: n }, (_, i) => `class ${i}`);
}

/** File-name-safe form of a label: lower case, runs of other characters become one dash. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '') || 'instance';
}

/** Axis title for the sweep key; `rate` is the poisoning rate in this project. */
function sweepAxisTitle(key: string): string {
  return key === 'rate' ? 'Poison rate' : key;
}

/**
 * Attack success (targeted) and clean accuracy against a numeric matrix key such as the poison
 * rate; colour groups instances by the other varying matrix keys (model, trigger position, ...).
 * A log x axis is used when the values span two orders of magnitude, as poison rates usually do.
 */
export function sweepFigure(data: ReportData, key: string): Figure | undefined {
  const swept = data.evaluated.filter((i) => typeof i.matrix[key] === 'number');
  if (swept.length < 2) return undefined;
  const otherKeys = varyingKeys(swept.map((i) => i.matrix)).filter((k) => k !== key);
  // Series are the instances' groups and conditions without the swept key, so two stages with the
  // same matrix (shift-lenet5, shift-cnn) stay two lines.
  const arrangement = arrange(swept, [key]);
  const seriesOf = (i: EvaluatedInstance) => {
    const parts = [arrangement.groupOf.get(i.id)!, arrangement.conditions.length > 1 ? arrangement.conditionOf.get(i.id)! : ''].filter((p) => p !== '' && p !== 'all');
    if (i.kind === 'one-pixel-search') parts.push('search');
    return parts.length > 0 ? parts.join(LABEL_SEPARATOR) : 'all';
  };
  const measures = ['Targeted success', 'Non-targeted success', 'Clean accuracy'];
  const values: Row[] = [];
  for (const i of swept) {
    const x = i.matrix[key] as number;
    const series = seriesOf(i);
    values.push({ x, series, measure: measures[0] as string, value: i.metrics.targetedSuccessRate });
    values.push({ x, series, measure: measures[1] as string, value: i.metrics.nonTargetedSuccessRate });
    if (i.metrics.cleanAccuracy !== undefined) values.push({ x, series, measure: measures[2] as string, value: i.metrics.cleanAccuracy });
  }
  const xs = swept.map((i) => i.matrix[key] as number);
  const logScale = Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) >= 100;
  const seriesNames = [...new Set(swept.map(seriesOf))];
  const present = measures.filter((m) => values.some((v) => v.measure === m));
  const spec = {
    data: { values },
    facet: { column: { field: 'measure', type: 'nominal', sort: present, title: null } },
    spec: {
      width: present.length > 2 ? 160 : PANEL_WIDTH,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        // Ticks exactly at the swept values: a sweep has few points and their values are what matter.
        x: {
          field: 'x', type: 'quantitative', title: sweepAxisTitle(key),
          scale: logScale ? { type: 'log', nice: false } : { zero: false, nice: false },
          axis: { values: [...new Set(xs)].sort((a, b) => a - b), labelAngle: 0, labelOverlap: true },
        },
        y: { field: 'value', type: 'quantitative', title: 'Rate / accuracy', scale: { domain: [0, 1] }, axis: { format: PERCENT } },
        color: seriesNames.length > 1
          ? { field: 'series', type: 'nominal', sort: seriesNames, title: otherKeys.map(capitalise).join(LABEL_SEPARATOR) || null, ...categoryScale(seriesNames.length) }
          : { value: CATEGORY_PALETTE[0] },
        detail: { field: 'series', type: 'nominal' },
        order: { field: 'x', type: 'quantitative' },
      },
    },
  };
  const title = `Attack success and clean accuracy vs ${sweepAxisTitle(key).toLowerCase()}`;
  return { name: `${slug(key)}-sweep`, title, spec: withTheme(spec as Omit<TopLevelSpec, 'config'>, title) };
}

/**
 * Every figure the data supports, in report order: the backdoor bars grouped by network, clean
 * accuracy, the one-pixel search, the class histogram and class pairs as small multiples, the
 * trigger-placement maps, the sweep, the training curves. `sweepKey` (from resolveSweepKey) adds
 * the sweep figure; figures with nothing to show are left out rather than drawn empty. One
 * ConditionColours gives a condition the same colour in every figure.
 */
export function buildFigures(data: ReportData, sweepKey: string | undefined): Figure[] {
  const colours = new ConditionColours();
  const pairs = data.evaluated.length === 0 ? 0 : Math.max(...data.evaluated.map((i) => i.metrics.classPairs.length));
  const figures = [
    backdoorSuccessFigure(data.evaluated, colours),
    backdoorConfidenceFigure(data.evaluated, colours),
    groupedCleanAccuracyFigure(data.evaluated, colours),
    searchFigure(data.evaluated, colours),
    groupedHistogramFigure(data.evaluated, colours),
    groupedClassPairsFigure(data.evaluated, classNames(pairs)),
    placementSuccessFigure(data.evaluated),
    placementAccuracyFigure(data.evaluated),
    sweepKey !== undefined ? sweepFigure(data, sweepKey) : undefined,
    groupedTrainingCurvesFigure(data.trained, colours),
  ];
  return figures.filter((f): f is Figure => f !== undefined);
}
