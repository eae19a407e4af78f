import type { TopLevelSpec } from 'vega-lite';
import { CIFAR10_CLASSES } from '../ml/dataset.js';
import type { EvaluatedInstance, TrainedInstance } from './instances.js';
import { describeMatrix, LABEL_SEPARATOR, varyingKeys } from './labels.js';
import { CATEGORY_PALETTE, FIGURE_HEIGHT, FIGURE_WIDTH, PANEL_WIDTH, THEME } from './theme.js';

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
/** Above this many bars, value labels on top of bars overlap; the axis alone has to do. */
const MAX_LABELLED_BARS = 16;

function labelOf(data: ReportData, id: string): string {
  return data.labels.get(id) ?? id;
}

function withTheme(spec: Omit<TopLevelSpec, 'config' | '$schema'>, title: string, subtitle?: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: subtitle ? { text: title, subtitle } : title,
    config: THEME,
    ...spec,
  } as TopLevelSpec;
}

/** Axis title for instance labels: the matrix keys they are made of (`Model · Data`), else "Instance". */
function instanceAxisTitle(ids: readonly { matrix: EvaluatedInstance['matrix'] }[]): string {
  const keys = varyingKeys(ids.map((i) => i.matrix));
  if (keys.length === 0) return 'Instance';
  return keys.map(capitalise).join(LABEL_SEPARATOR);
}

/** The Okabe–Ito palette has 8 colours; beyond that colours would repeat, so fall back to 20. */
function categoryScale(count: number): { scale?: { scheme: string } } {
  return count > CATEGORY_PALETTE.length ? { scale: { scheme: 'tableau20' } } : {};
}

function capitalise(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/** Horizontal labels when they fit under their bars, slanted otherwise. */
function labelAngle(labels: readonly string[]): number {
  const longest = Math.max(0, ...labels.map((l) => l.length));
  return labels.length * longest * 7 > FIGURE_WIDTH ? -30 : 0;
}

/**
 * Grouped bars, one group per instance and one bar per measure (e.g. targeted vs non-targeted),
 * on a 0..100 % axis, with the values printed on the bars while they fit.
 */
function groupedPercentBars(
  data: ReportData,
  instances: readonly EvaluatedInstance[],
  measures: readonly { name: string; value: (i: EvaluatedInstance) => number | undefined }[],
  name: string,
  title: string,
  yTitle: string,
  subtitle?: string,
): Figure {
  const labels = instances.map((i) => labelOf(data, i.id));
  const values: Row[] = [];
  for (const instance of instances) {
    for (const measure of measures) {
      const value = measure.value(instance);
      if (value !== undefined) values.push({ instance: labelOf(data, instance.id), measure: measure.name, value });
    }
  }
  const single = measures.length === 1;
  const encoding = {
    x: {
      field: 'instance', type: 'nominal', sort: labels, title: instanceAxisTitle(instances),
      axis: { labelAngle: labelAngle(labels), labelAlign: labelAngle(labels) === 0 ? 'center' : 'right' },
    },
    ...(single ? {} : { xOffset: { field: 'measure', type: 'nominal', sort: measures.map((m) => m.name) } }),
    y: { field: 'value', type: 'quantitative', title: yTitle, scale: { domain: [0, 1] }, axis: { format: PERCENT } },
  };
  const bars = {
    mark: { type: 'bar' },
    encoding: single
      ? { color: { value: CATEGORY_PALETTE[0] } }
      : { color: { field: 'measure', type: 'nominal', sort: measures.map((m) => m.name), title: null, legend: { orient: 'top' } } },
  };
  const text = {
    mark: { type: 'text', dy: -6, fontSize: 9, color: '#333333' },
    encoding: { text: { field: 'value', type: 'quantitative', format: PERCENT } },
  };
  const layers = values.length <= MAX_LABELLED_BARS ? [bars, text] : [bars];
  return {
    name,
    title,
    spec: withTheme({ width: FIGURE_WIDTH, height: FIGURE_HEIGHT, data: { values }, encoding, layer: layers } as Omit<TopLevelSpec, 'config'>, title, subtitle),
  };
}

/** Targeted and non-targeted attack success rate per instance (grouped bars). */
export function successRateFigure(data: ReportData): Figure | undefined {
  if (data.evaluated.length === 0) return undefined;
  return groupedPercentBars(data, data.evaluated, [
    { name: 'Targeted', value: (i) => i.metrics.targetedSuccessRate },
    { name: 'Non-targeted', value: (i) => i.metrics.nonTargetedSuccessRate },
  ], 'success-rate', 'Attack success rate', 'Success rate');
}

/** Mean confidence of the reached class over successful attacks, per instance. */
export function confidenceFigure(data: ReportData): Figure | undefined {
  if (data.evaluated.length === 0) return undefined;
  return groupedPercentBars(data, data.evaluated, [
    { name: 'Targeted', value: (i) => i.metrics.targetedConfidence },
    { name: 'Non-targeted', value: (i) => i.metrics.nonTargetedConfidence },
  ], 'confidence', 'Confidence of successful attacks', 'Mean confidence', 'probability of the reached class');
}

/** Clean test accuracy per instance; only instances that report it (evaluate, not search). */
export function cleanAccuracyFigure(data: ReportData): Figure | undefined {
  const withAccuracy = data.evaluated.filter((i) => i.metrics.cleanAccuracy !== undefined);
  if (withAccuracy.length === 0) return undefined;
  return groupedPercentBars(data, withAccuracy, [
    { name: 'Clean accuracy', value: (i) => i.metrics.cleanAccuracy },
  ], 'clean-accuracy', 'Clean test accuracy', 'Accuracy');
}

/** Beyond this many instances grouped histogram bars get too thin to read; a table-like heatmap is used. */
const MAX_GROUPED_HISTOGRAMS = 6;

/**
 * Histogram of how many target classes each attacked image could be sent to (Su et al. fig. 4),
 * as a share of the attacked images so instances with different n compare directly. Grouped bars
 * for a few instances; for many, one heatmap row per instance with the share printed in each cell.
 */
export function targetClassHistogramFigure(data: ReportData): Figure | undefined {
  if (data.evaluated.length === 0) return undefined;
  const labels = data.evaluated.map((i) => labelOf(data, i.id));
  const values: Row[] = data.evaluated.flatMap((instance) => {
    const histogram = instance.metrics.targetClassHistogram;
    const total = histogram.reduce((a, b) => a + b, 0);
    return histogram.map((count, k) => ({ instance: labelOf(data, instance.id), k, count, share: total > 0 ? count / total : 0 }));
  });
  const xAxis = { field: 'k', type: 'ordinal', title: 'Number of target classes reached', axis: { labelAngle: 0 } };
  const title = 'Number of target classes per image';
  if (labels.length > MAX_GROUPED_HISTOGRAMS) {
    const maxShare = Math.max(0, ...values.map((v) => v.share as number));
    const spec = {
      width: FIGURE_WIDTH,
      height: { step: 22 },
      data: { values },
      encoding: { x: xAxis, y: { field: 'instance', type: 'nominal', sort: labels, title: instanceAxisTitle(data.evaluated) } },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: {
            color: {
              field: 'share', type: 'quantitative', title: 'Share of attacked images',
              scale: { scheme: 'blues', domain: [0, Math.max(maxShare, 0.01)] }, legend: { format: PERCENT },
            },
          },
        },
        {
          mark: { type: 'text', fontSize: 9 },
          encoding: {
            text: { field: 'share', type: 'quantitative', format: PERCENT },
            color: { condition: { test: `datum.share > ${maxShare * 0.55}`, value: 'white' }, value: '#222222' },
          },
        },
      ],
    };
    return { name: 'target-class-histogram', title, spec: withTheme(spec as Omit<TopLevelSpec, 'config'>, title, 'share of attacked images per instance') };
  }
  const spec = {
    width: FIGURE_WIDTH,
    height: FIGURE_HEIGHT,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: xAxis,
      xOffset: { field: 'instance', type: 'nominal', sort: labels },
      y: { field: 'share', type: 'quantitative', title: 'Share of attacked images', axis: { format: PERCENT } },
      color: { field: 'instance', type: 'nominal', sort: labels, title: instanceAxisTitle(data.evaluated) },
    },
  };
  return { name: 'target-class-histogram', title, spec: withTheme(spec as Omit<TopLevelSpec, 'config'>, title) };
}

/** Class names for an n×n class-pair matrix: CIFAR-10's for n = 10, `class i` otherwise. */
export function classNames(n: number): string[] {
  return n === CIFAR10_CLASSES.length ? [...CIFAR10_CLASSES] : Array.from({ length: n }, (_, i) => `class ${i}`);
}

/** File-name-safe form of a label: lower case, runs of other characters become one dash. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '') || 'instance';
}

/**
 * One heatmap per instance: successful attacks from original class (rows) to target class (columns),
 * count printed in each cell. The diagonal is left empty because a class is never its own target.
 */
export function classPairFigures(data: ReportData): Figure[] {
  const used = new Set<string>();
  return data.evaluated.map((instance) => {
    const label = labelOf(data, instance.id);
    const pairs = instance.metrics.classPairs;
    const names = classNames(pairs.length);
    const values: Row[] = [];
    let max = 0;
    pairs.forEach((row, original) => row.forEach((count, target) => {
      if (original === target) return;
      values.push({ original: names[original] as string, target: names[target] as string, count });
      max = Math.max(max, count);
    }));
    let name = `class-pairs-${slug(label)}`;
    for (let n = 2; used.has(name); n++) name = `class-pairs-${slug(label)}-${n}`;
    used.add(name);
    const spec = {
      width: 360,
      height: 360,
      data: { values },
      encoding: {
        x: { field: 'target', type: 'nominal', sort: names, title: 'Target class', axis: { labelAngle: -40, labelAlign: 'right' } },
        y: { field: 'original', type: 'nominal', sort: names, title: 'Original class' },
      },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: { color: { field: 'count', type: 'quantitative', title: 'Successes', scale: { scheme: 'blues', domain: [0, Math.max(max, 1)] }, legend: { format: 'd', tickMinStep: 1 } } },
        },
        {
          mark: { type: 'text', fontSize: 10 },
          encoding: {
            text: { field: 'count', type: 'quantitative' },
            // Dark cells get white digits: the threshold sits where the blues scheme turns dark.
            color: { condition: { test: `datum.count > ${max * 0.55}`, value: 'white' }, value: '#222222' },
          },
        },
      ],
    };
    const title = `Class pairs: ${label}`;
    const subtitle = `successful one-pixel attacks, original → target class (${instance.metrics.attemptedImages} attacked images)`;
    return { name, title, spec: withTheme(spec as Omit<TopLevelSpec, 'config'>, title, subtitle) };
  });
}

/**
 * Loss (left) and accuracy (right) per epoch for every train / transfer-retrain instance; colour is
 * the instance, solid lines are training values, dashed lines validation values.
 */
export function trainingCurvesFigure(data: ReportData): Figure | undefined {
  if (data.trained.length === 0) return undefined;
  const labels = data.trained.map((i) => labelOf(data, i.id));
  const values: Row[] = [];
  for (const instance of data.trained) {
    const label = labelOf(data, instance.id);
    for (const e of instance.history.epochs) {
      const add = (panel: string, split: string, value: number | undefined) => {
        if (value !== undefined && Number.isFinite(value)) values.push({ instance: label, epoch: e.epoch, panel, split, value });
      };
      add('loss', 'train', e.loss);
      add('loss', 'validation', e.valLoss);
      add('accuracy', 'train', e.accuracy);
      add('accuracy', 'validation', e.valAccuracy);
    }
  }
  const panel = (which: 'loss' | 'accuracy') => ({
    width: PANEL_WIDTH,
    height: 220,
    transform: [{ filter: `datum.panel === '${which}'` }],
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'Epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: which === 'loss'
        ? { field: 'value', type: 'quantitative', title: 'Loss', scale: { zero: false } }
        : { field: 'value', type: 'quantitative', title: 'Accuracy', axis: { format: PERCENT }, scale: { zero: false } },
      color: { field: 'instance', type: 'nominal', sort: labels, title: instanceAxisTitle(data.trained), ...categoryScale(labels.length) },
      strokeDash: { field: 'split', type: 'nominal', sort: ['train', 'validation'], title: 'Split' },
      shape: { field: 'split', type: 'nominal', sort: ['train', 'validation'], title: 'Split' },
    },
  });
  const spec = { data: { values }, hconcat: [panel('loss'), panel('accuracy')] };
  const title = 'Training curves';
  return { name: 'training-curves', title, spec: withTheme(spec as Omit<TopLevelSpec, 'config'>, title, 'solid: training, dashed: validation') };
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
  const seriesOf = (i: EvaluatedInstance) => {
    const parts = [describeMatrix(i.matrix, otherKeys)].filter((p) => p !== '');
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
 * Every figure the data supports, in report order. `sweepKey` (from resolveSweepKey) adds the
 * sweep figure; figures with nothing to show are left out rather than drawn empty.
 */
export function buildFigures(data: ReportData, sweepKey: string | undefined): Figure[] {
  const figures = [
    successRateFigure(data),
    confidenceFigure(data),
    cleanAccuracyFigure(data),
    targetClassHistogramFigure(data),
    sweepKey !== undefined ? sweepFigure(data, sweepKey) : undefined,
    trainingCurvesFigure(data),
    ...classPairFigures(data),
  ];
  return figures.filter((f): f is Figure => f !== undefined);
}
