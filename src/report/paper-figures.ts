import type { TopLevelSpec } from 'vega-lite';
import type { Figure } from './charts.js';
import { arrange, ConditionColours, isTargetedSearch, type Arrangement } from './grouping.js';
import type { EvaluatedInstance, TrainedInstance } from './instances.js';
import { LABEL_SEPARATOR } from './labels.js';
import { NO_LABEL_LIMIT, THEME } from './theme.js';

/**
 * The paper's figures at any scale: bars grouped by network with one colour per condition, the
 * one-pixel search in its own figure with a panel per mode, and the target-class histogram and
 * class-pair matrices as small multiples per network on one shared scale. Labels are never cut:
 * axis labels break at ` · ` into lines, and every mark carries the full instance id as tooltip.
 */

type Row = Record<string, string | number | null>;

const PERCENT = '.0%';
/** Width of one bar in a group; groups grow with their number of conditions. */
const BAR_WIDTH = 16;
/** A group is never narrower than this, so its (line-broken) label has room. */
const MIN_GROUP_WIDTH = 90;
/** Above this many bars in a panel, printed values would collide; the axis and tooltips carry them. */
const MAX_VALUE_LABELS = 24;
/** Side of one class-pair cell in px: 10 classes make a 140 px panel, small enough for 4 across. */
const PAIR_CELL = 14;

function themed(spec: Record<string, unknown>, title: string, subtitle?: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: subtitle ? { text: title, subtitle } : title,
    config: { ...THEME, axis: { ...THEME.axis, labelLimit: NO_LABEL_LIMIT }, legend: { ...THEME.legend, labelLimit: NO_LABEL_LIMIT, titleLimit: NO_LABEL_LIMIT }, header: { ...THEME.header, labelLimit: NO_LABEL_LIMIT } },
    ...spec,
  } as TopLevelSpec;
}

/** Group labels break into lines at the label separator, so `resnet34 · width=0.25` stays narrow and whole. */
const LINE_BREAK_LABELS = `split(datum.label, '${LABEL_SEPARATOR}')`;

/** A facet header over groups: group labels broken into lines like the axis labels, never cut. */
export const GROUP_HEADER = { labelLimit: NO_LABEL_LIMIT, labelExpr: LINE_BREAK_LABELS } as const;

/**
 * Vega-Lite lays a row x column facet out cell by cell in data order, so a missing combination
 * (a search that has not run) would shift every later panel under the wrong header. One empty datum
 * per missing combination keeps the grid: its value is null, which marks leave out.
 */
export function padFacetGrid(values: Row[], rowField: string, rows: readonly string[], columnField: string, columns: readonly string[], fill: Row): Row[] {
  const present = new Set(values.map((v) => `${String(v[rowField])}\u0000${String(v[columnField])}`));
  const pads: Row[] = [];
  for (const row of rows) for (const column of columns) {
    if (!present.has(`${row}\u0000${column}`)) pads.push({ ...fill, [rowField]: row, [columnField]: column });
  }
  return [...values, ...pads];
}

function groupAxis(arrangement: Arrangement): Record<string, unknown> {
  return {
    field: 'group', type: 'nominal', sort: arrangement.groups, title: arrangement.groupTitle || null,
    axis: { labelAngle: 0, labelAlign: 'center', labelExpr: LINE_BREAK_LABELS, labelLimit: NO_LABEL_LIMIT },
  };
}

function conditionColour(arrangement: Arrangement, colours: ConditionColours, title = 'Condition'): Record<string, unknown> {
  return {
    field: 'condition', type: 'nominal', sort: arrangement.conditions, title,
    scale: colours.scale(arrangement.conditions),
    legend: { orient: 'top', labelLimit: NO_LABEL_LIMIT, columns: Math.min(arrangement.conditions.length, 4) },
  };
}

function panelWidth(arrangement: Arrangement): number {
  return arrangement.groups.length * Math.max(MIN_GROUP_WIDTH, (arrangement.conditions.length + 1) * BAR_WIDTH);
}

/** Bars (group x condition) faceted by `measure`, optionally also by `panel` rows; y is a 0..100 % axis. */
function groupedBars(
  values: Row[], arrangement: Arrangement, colours: ConditionColours,
  facets: { column: { field: string; sort: string[] }; row?: { field: string; sort: string[] } },
  yTitle: string,
): Record<string, unknown> {
  const panels = new Set(values.map((v) => `${String(v[facets.column.field])}\u0000${facets.row ? String(v[facets.row.field]) : ''}`)).size;
  const bars = {
    mark: { type: 'bar' },
    encoding: {
      color: conditionColour(arrangement, colours),
      tooltip: [
        { field: 'id', type: 'nominal', title: 'Instance' },
        { field: 'value', type: 'quantitative', format: '.1%', title: yTitle },
        { field: 'n', type: 'quantitative', title: 'n' },
      ],
    },
  };
  const text = {
    mark: { type: 'text', dy: -5, fontSize: 8, color: '#333333' },
    encoding: { text: { field: 'value', type: 'quantitative', format: PERCENT } },
  };
  const labelled = values.length / Math.max(panels, 1) <= MAX_VALUE_LABELS;
  const header = (title: null) => ({ title, labelLimit: NO_LABEL_LIMIT });
  return {
    data: { values },
    facet: {
      column: { field: facets.column.field, type: 'nominal', sort: facets.column.sort, header: header(null) },
      ...(facets.row ? { row: { field: facets.row.field, type: 'nominal', sort: facets.row.sort, header: header(null) } } : {}),
    },
    spec: {
      width: panelWidth(arrangement),
      height: 200,
      encoding: {
        x: groupAxis(arrangement),
        xOffset: { field: 'condition', type: 'nominal', sort: arrangement.conditions },
        y: { field: 'value', type: 'quantitative', title: yTitle, scale: { domain: [0, 1] }, axis: { format: PERCENT } },
      },
      layer: labelled ? [bars, text] : [bars],
    },
  };
}

const evaluations = (instances: readonly EvaluatedInstance[]) => instances.filter((i) => i.kind !== 'one-pixel-search');
const searches = (instances: readonly EvaluatedInstance[]) => instances.filter((i) => i.kind === 'one-pixel-search');

/**
 * The backdoor's targeted and non-targeted success (or their confidence) per network and
 * condition, from evaluate outputs.
 */
function backdoorFigure(instances: readonly EvaluatedInstance[], colours: ConditionColours, which: 'success' | 'confidence'): Figure | undefined {
  const evaluated = evaluations(instances);
  if (evaluated.length === 0) return undefined;
  const arrangement = arrange(evaluated);
  const measures = which === 'success' ? ['Targeted success', 'Non-targeted success'] : ['Targeted confidence', 'Non-targeted confidence'];
  const values: Row[] = evaluated.flatMap((i) => {
    const m = i.metrics;
    const [targeted, nonTargeted] = which === 'success' ? [m.targetedSuccessRate, m.nonTargetedSuccessRate] : [m.targetedConfidence, m.nonTargetedConfidence];
    const base = { id: i.id, group: arrangement.groupOf.get(i.id)!, condition: arrangement.conditionOf.get(i.id)! };
    return [
      { ...base, measure: measures[0]!, value: targeted, n: m.attemptedTargeted },
      { ...base, measure: measures[1]!, value: nonTargeted, n: m.attemptedImages },
    ];
  });
  const spec = groupedBars(values, arrangement, colours, { column: { field: 'measure', sort: measures } }, which === 'success' ? 'Success rate' : 'Mean confidence');
  const title = which === 'success' ? 'Backdoor attack success rate' : 'Confidence of successful backdoor attacks';
  const subtitle = which === 'success' ? 'triggered test images sent to the target class (targeted) or away from their true class (non-targeted)' : 'mean probability of the reached class over successful attacks';
  return { name: which === 'success' ? 'success-rate' : 'confidence', title, spec: themed(spec, title, subtitle) };
}

export const backdoorSuccessFigure = (instances: readonly EvaluatedInstance[], colours: ConditionColours) => backdoorFigure(instances, colours, 'success');
export const backdoorConfidenceFigure = (instances: readonly EvaluatedInstance[], colours: ConditionColours) => backdoorFigure(instances, colours, 'confidence');

/** Clean test accuracy per network and condition (evaluate outputs only: a search measures none). */
export function groupedCleanAccuracyFigure(instances: readonly EvaluatedInstance[], colours: ConditionColours): Figure | undefined {
  const evaluated = evaluations(instances).filter((i) => i.metrics.cleanAccuracy !== undefined);
  if (evaluated.length === 0) return undefined;
  const arrangement = arrange(evaluated);
  const measure = 'Clean test accuracy';
  const values: Row[] = evaluated.map((i) => ({
    id: i.id, group: arrangement.groupOf.get(i.id)!, condition: arrangement.conditionOf.get(i.id)!, measure, value: i.metrics.cleanAccuracy!, n: i.metrics.attemptedImages,
  }));
  const spec = groupedBars(values, arrangement, colours, { column: { field: 'measure', sort: [measure] } }, 'Accuracy');
  return { name: 'clean-accuracy', title: 'Clean test accuracy', spec: themed(spec, 'Clean test accuracy') };
}

const SEARCH_MODES = ['Non-targeted search', 'Targeted search'];
const SEARCH_MEASURES = ['Success rate', 'Confidence'];

/**
 * Su et al.'s one-pixel search per network, the clean model against the backdoored one: success
 * and confidence (rows) for each mode (columns). Non-targeted success is the share of images whose
 * prediction flipped; targeted, the share of (image, other class) pairs reached.
 */
export function searchFigure(instances: readonly EvaluatedInstance[], colours: ConditionColours): Figure | undefined {
  const searched = searches(instances);
  if (searched.length === 0) return undefined;
  const arrangement = arrange(searched);
  const values: Row[] = searched.flatMap((i) => {
    const m = i.metrics;
    const targeted = isTargetedSearch(i);
    const base = { id: i.id, group: arrangement.groupOf.get(i.id)!, condition: arrangement.conditionOf.get(i.id)!, mode: SEARCH_MODES[targeted ? 1 : 0]! };
    return [
      { ...base, measure: SEARCH_MEASURES[0]!, value: targeted ? m.targetedSuccessRate : m.nonTargetedSuccessRate, n: targeted ? m.attemptedTargeted : m.attemptedImages },
      { ...base, measure: SEARCH_MEASURES[1]!, value: targeted ? m.targetedConfidence : m.nonTargetedConfidence, n: targeted ? m.attemptedTargeted : m.attemptedImages },
    ];
  });
  const modes = SEARCH_MODES.filter((mode) => values.some((v) => v.mode === mode));
  const spec = groupedBars(values, arrangement, colours, { column: { field: 'mode', sort: modes }, row: { field: 'measure', sort: SEARCH_MEASURES } }, 'Rate');
  const title = 'One-pixel search (Su et al.) on each model';
  return { name: 'search', title, spec: themed(spec, title, 'differential evolution over one pixel per image; confidence = mean probability of the reached class over successes') };
}

/** The instances whose attacks aim at several classes per image: the ones a class histogram says something about. */
function multiTarget(instances: readonly EvaluatedInstance[]): EvaluatedInstance[] {
  const many = instances.filter((i) => i.metrics.attemptedTargeted > i.metrics.attemptedImages);
  return many.length > 0 ? many : [...instances];
}

/**
 * How many of the other classes each attacked image could be sent to (Su et al.'s histogram), as a
 * share of the attacked images: one panel per network on a shared y axis, one bar colour per
 * condition. Drawn from the attacks that aim at several classes per image (targeted searches,
 * per-target backdoors) when there are any, since for one target per image it only repeats the
 * success rate.
 */
export function groupedHistogramFigure(instances: readonly EvaluatedInstance[], colours: ConditionColours): Figure | undefined {
  if (instances.length === 0) return undefined;
  const shown = multiTarget(instances);
  const arrangement = arrange(shown);
  const values: Row[] = shown.flatMap((i) => {
    const histogram = i.metrics.targetClassHistogram;
    const total = histogram.reduce((a, b) => a + b, 0);
    return histogram.map((count, k) => ({
      id: i.id, group: arrangement.groupOf.get(i.id)!, condition: arrangement.conditionOf.get(i.id)!, k, count, share: total > 0 ? count / total : 0,
    }));
  });
  const classes = Math.max(...shown.map((i) => i.metrics.targetClassHistogram.length));
  const spec = {
    data: { values },
    facet: { field: 'group', type: 'nominal', sort: arrangement.groups, title: arrangement.groupTitle || null, header: GROUP_HEADER },
    columns: Math.min(arrangement.groups.length, 4),
    spec: {
      width: Math.max(200, classes * (arrangement.conditions.length * 5 + 4)),
      height: 160,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'k', type: 'ordinal', title: 'Target classes reached per image', axis: { labelAngle: 0 } },
        xOffset: { field: 'condition', type: 'nominal', sort: arrangement.conditions },
        y: { field: 'share', type: 'quantitative', title: 'Share of attacked images', axis: { format: PERCENT } },
        color: conditionColour(arrangement, colours),
        tooltip: [
          { field: 'id', type: 'nominal', title: 'Instance' },
          { field: 'k', type: 'ordinal', title: 'classes reached' },
          { field: 'count', type: 'quantitative', title: 'images' },
          { field: 'share', type: 'quantitative', format: '.1%', title: 'share' },
        ],
      },
    },
  };
  const title = 'Number of target classes per image';
  return { name: 'target-class-histogram', title, spec: themed(spec, title, 'one panel per model, shared scale') };
}

/**
 * Original -> reached class pairs of the successful attacks, one 10x10 matrix per network
 * (columns) and condition (rows), all on one colour scale: the share of the instance's attacked
 * images, so instances with different numbers of images compare directly.
 */
export function groupedClassPairsFigure(instances: readonly EvaluatedInstance[], names: readonly string[]): Figure | undefined {
  if (instances.length === 0) return undefined;
  const shown = multiTarget(instances);
  const arrangement = arrange(shown);
  const values: Row[] = [];
  for (const i of shown) {
    const pairs = i.metrics.classPairs;
    pairs.forEach((row, original) => row.forEach((count, target) => {
      if (original === target) return;
      values.push({
        id: i.id, group: arrangement.groupOf.get(i.id)!, condition: arrangement.conditionOf.get(i.id)!,
        original: names[original] ?? `class ${original}`, target: names[target] ?? `class ${target}`, count,
        share: i.metrics.attemptedImages > 0 ? count / i.metrics.attemptedImages : 0,
      });
    }));
  }
  const classNames = names.slice(0, Math.max(...shown.map((i) => i.metrics.classPairs.length)));
  const padded = padFacetGrid(values, 'condition', arrangement.conditions, 'group', arrangement.groups, { id: 'not run', original: classNames[0]!, target: classNames[1]!, count: null, share: null });
  const spec = {
    data: { values: padded },
    facet: {
      column: { field: 'group', type: 'nominal', sort: arrangement.groups, title: arrangement.groupTitle || null, header: GROUP_HEADER },
      row: { field: 'condition', type: 'nominal', sort: arrangement.conditions, title: null, header: { labelLimit: NO_LABEL_LIMIT, labelAngle: 0, labelAlign: 'left' } },
    },
    spec: {
      width: classNames.length * PAIR_CELL,
      height: classNames.length * PAIR_CELL,
      mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
      encoding: {
        x: { field: 'target', type: 'nominal', sort: classNames, title: 'Target class', axis: { labelAngle: -60, labelAlign: 'right', labelFontSize: 9 } },
        y: { field: 'original', type: 'nominal', sort: classNames, title: 'Original class', axis: { labelFontSize: 9 } },
        color: { field: 'share', type: 'quantitative', title: 'Share of attacked images', scale: { scheme: 'blues', domainMin: 0 }, legend: { format: PERCENT } },
        tooltip: [
          { field: 'id', type: 'nominal', title: 'Instance' },
          { field: 'original', type: 'nominal' },
          { field: 'target', type: 'nominal' },
          { field: 'count', type: 'quantitative', title: 'successes' },
        ],
      },
    },
  };
  const title = 'Class pairs of successful attacks';
  return { name: 'class-pairs', title, spec: themed(spec, title, 'original class (rows of each matrix) → reached class; one matrix per model and condition, shared colour scale') };
}

/**
 * Loss and accuracy per epoch (rows) for each network (columns), one colour per condition (the
 * same as in the other figures: clean, backdoored, after transfer), solid training and dashed
 * validation lines. Loss and accuracy each have their own y scale, shared across networks.
 */
export function groupedTrainingCurvesFigure(trained: readonly TrainedInstance[], colours: ConditionColours): Figure | undefined {
  if (trained.length === 0) return undefined;
  const arrangement = arrange(trained);
  const measures = ['Loss', 'Accuracy'];
  const values: Row[] = [];
  for (const instance of trained) {
    const base = { id: instance.id, group: arrangement.groupOf.get(instance.id)!, condition: arrangement.conditionOf.get(instance.id)! };
    for (const e of instance.history.epochs) {
      const add = (measure: string, split: string, value: number | undefined) => {
        if (value !== undefined && Number.isFinite(value)) values.push({ ...base, epoch: e.epoch, measure, split, value });
      };
      add('Loss', 'train', e.loss);
      add('Loss', 'validation', e.valLoss);
      add('Accuracy', 'train', e.accuracy);
      add('Accuracy', 'validation', e.valAccuracy);
    }
  }
  const splits = ['train', 'validation'].filter((split) => values.some((v) => v.split === split));
  // One faceted row per measure: a row shares its y scale across networks, loss and accuracy do not.
  const row = (measure: string, first: boolean) => ({
    transform: [{ filter: `datum.measure === '${measure}'` }],
    facet: {
      column: {
        field: 'group', type: 'nominal', sort: arrangement.groups, title: first ? arrangement.groupTitle || null : null,
        header: first ? GROUP_HEADER : { labels: false },
      },
    },
    spec: {
      width: 170,
      height: 130,
      mark: { type: 'line', point: { size: 18 } },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'Epoch', axis: { tickMinStep: 1, format: 'd' } },
        y: { field: 'value', type: 'quantitative', title: measure, scale: { zero: false }, ...(measure === 'Accuracy' ? { axis: { format: PERCENT } } : {}) },
        color: conditionColour(arrangement, colours),
        strokeDash: { field: 'split', type: 'nominal', sort: splits, title: 'Split', legend: splits.length > 1 ? {} : null },
        detail: { field: 'id', type: 'nominal' },
        tooltip: [
          { field: 'id', type: 'nominal', title: 'Instance' },
          { field: 'epoch', type: 'quantitative' },
          { field: 'value', type: 'quantitative', format: '.3f' },
        ],
      },
    },
  });
  const spec = { data: { values }, vconcat: measures.map((measure, index) => row(measure, index === 0)) };
  const title = 'Training curves';
  return { name: 'training-curves', title, spec: themed(spec, title, 'loss and accuracy per epoch; solid: training, dashed: validation') };
}
