import type { TopLevelSpec } from 'vega-lite';
import { fail, ok, type Result } from '../common/result.js';
import type { MatrixPoint } from '../pipeline/types.js';
import type { Figure, ReportData } from './charts.js';
import type { Experiment } from './experiment.js';
import {
  HISTORY_KINDS, loadAttackMetrics, loadTrainingHistory, METRICS_KINDS,
  type EvaluatedInstance, type InstanceRef, type TrainedInstance,
} from './instances.js';
import { describeMatrix, instanceLabels, LABEL_SEPARATOR, varyingKeys } from './labels.js';
import { CATEGORY_PALETTE, PANEL_WIDTH, THEME } from './theme.js';

/**
 * The matrix key that carries the run in an overlay. Runs enter the existing figures as one more
 * matrix dimension, so every chart builder draws them as it draws any varying key (a colour or
 * series in curves and sweeps, part of the label in bars) without knowing about runs.
 */
export const RUN_KEY = 'run';

/**
 * Short, unique names for runs in legends: the pipeline name while that tells them apart, then
 * with the run's start time (from its id), then the whole id.
 */
export function runSeriesNames(experiments: readonly Experiment[]): string[] {
  const time = (label: string): string => {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(label);
    return m ? `${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}` : label;
  };
  const candidates: ((e: Experiment) => string)[] = [(e) => e.pipeline, (e) => `${e.pipeline} ${time(e.label)}`, (e) => e.label];
  for (const name of candidates) {
    const names = experiments.map(name);
    if (new Set(names).size === names.length) return names;
  }
  return experiments.map((e, i) => `${e.label} (${i + 1})`);
}

/** The runs' figures data in one ReportData: each instance's matrix gains `run`, ids become `<run> · <id>`. */
export interface OverlayData extends ReportData {
  /** Series name per experiment, in the order given. */
  runs: string[];
}

/**
 * Reads the evaluate / one-pixel-search metrics and training histories of every run's instances
 * (from their outputs) and merges them with the run as a matrix key. Instances without outputs
 * (failed, not in the run) are left out; a malformed output file is an error naming it.
 */
export async function overlayRuns(experiments: readonly Experiment[]): Promise<Result<OverlayData, string>> {
  const runs = runSeriesNames(experiments);
  const evaluated: EvaluatedInstance[] = [];
  const trained: TrainedInstance[] = [];
  for (const [n, experiment] of experiments.entries()) {
    for (const inst of experiment.instances) {
      const dir = experiment.outputs.get(inst.id);
      if (dir === undefined) continue;
      const ref: InstanceRef = {
        id: `${runs[n]}${LABEL_SEPARATOR}${inst.id}`,
        stage: inst.stage,
        kind: inst.kind,
        matrix: { [RUN_KEY]: runs[n]!, ...inst.matrix } as MatrixPoint,
        dir,
      };
      if (METRICS_KINDS.includes(inst.kind)) {
        const loaded = await loadAttackMetrics(ref);
        if (!loaded.ok) return fail(`run ${experiment.label}: ${loaded.error}`);
        evaluated.push(loaded.value);
      } else if (HISTORY_KINDS.includes(inst.kind)) {
        const loaded = await loadTrainingHistory(ref);
        if (!loaded.ok) return fail(`run ${experiment.label}: ${loaded.error}`);
        trained.push(loaded.value);
      }
    }
  }
  const labels = new Map([...instanceLabels(evaluated), ...instanceLabels(trained)]);
  return ok({ evaluated, trained, labels, runs });
}

/**
 * The overlay's own figure: clean accuracy, targeted and non-targeted success per instance, one
 * bar per run side by side in the run's colour, so the same instance of two runs is read at a glance.
 */
export function runComparisonFigure(data: OverlayData): Figure | undefined {
  if (data.evaluated.length === 0) return undefined;
  const otherKeys = varyingKeys(data.evaluated.map((i) => i.matrix)).filter((k) => k !== RUN_KEY);
  const instanceOf = (i: EvaluatedInstance): string => {
    const parts = [describeMatrix(i.matrix, otherKeys)].filter((p) => p !== '');
    if (i.kind === 'one-pixel-search') parts.push('search');
    return parts.length > 0 ? parts.join(LABEL_SEPARATOR) : i.stage;
  };
  const measures = [
    { name: 'Clean accuracy', value: (i: EvaluatedInstance) => i.metrics.cleanAccuracy },
    { name: 'Targeted success', value: (i: EvaluatedInstance) => i.metrics.targetedSuccessRate },
    { name: 'Non-targeted success', value: (i: EvaluatedInstance) => i.metrics.nonTargetedSuccessRate },
  ];
  const values: Record<string, string | number>[] = [];
  for (const i of data.evaluated) {
    for (const m of measures) {
      const value = m.value(i);
      if (value !== undefined) values.push({ run: String(i.matrix[RUN_KEY]), instance: instanceOf(i), measure: m.name, value });
    }
  }
  // Instances in the order of the run that has most of them (its plan order), then the others'.
  const perRun = data.runs.map((run) => data.evaluated.filter((i) => i.matrix[RUN_KEY] === run).map(instanceOf));
  const instances = [...new Set([...perRun].sort((x, y) => y.length - x.length).flat())];
  const present = measures.map((m) => m.name).filter((name) => values.some((v) => v.measure === name));
  const title = 'Runs compared';
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'one bar per run; the same instance of each run side by side' },
    config: THEME,
    data: { values },
    facet: { column: { field: 'measure', type: 'nominal', sort: present, title: null } },
    spec: {
      width: present.length > 2 ? 160 : PANEL_WIDTH,
      height: 220,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'instance', type: 'nominal', sort: instances, title: otherKeys.length > 0 ? otherKeys.join(LABEL_SEPARATOR) : 'Instance', axis: { labelAngle: -30, labelAlign: 'right' } },
        xOffset: { field: 'run', type: 'nominal', sort: data.runs },
        y: { field: 'value', type: 'quantitative', title: 'Rate / accuracy', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
        color: {
          field: 'run', type: 'nominal', sort: data.runs, title: 'Run', legend: { orient: 'top' },
          ...(data.runs.length > CATEGORY_PALETTE.length ? { scale: { scheme: 'tableau20' } } : {}),
        },
      },
    },
  };
  return { name: 'runs-compared', title, spec: spec as unknown as TopLevelSpec };
}
