import type { JsonPrimitive } from '../common/json.js';
import type { DataTable, TableColumn } from './data-table.js';
import { lineageParams, numericMetrics, type Experiment, type ExperimentInstance } from './experiment.js';
import { METRIC_COLUMNS, RESULT_KINDS } from './metric-columns.js';

export interface CompareOptions {
  /** Stages whose instances become rows; default: every evaluate and one-pixel-search instance. */
  stages?: readonly string[];
  /** Also drop metric columns whose value is the same in every row. */
  onlyChanged?: boolean;
}

interface CompareRow {
  experiment: Experiment;
  instance: ExperimentInstance;
  params: Map<string, JsonPrimitive>;
  metrics: Map<string, number>;
}

/** The instances compared from one experiment, in plan order. */
export function comparedInstances(experiment: Experiment, stages?: readonly string[]): ExperimentInstance[] {
  return experiment.instances.filter((i) => (stages && stages.length > 0 ? stages.includes(i.stage) : RESULT_KINDS.includes(i.kind)));
}

const sameEverywhere = (values: readonly (JsonPrimitive | undefined)[]): boolean => new Set(values.map((v) => JSON.stringify(v ?? null))).size <= 1;

/**
 * One row per (experiment, instance), like `dvc exp show`: a `run` and an `instance` column, a
 * column for each resolved param (own or upstream, `<stage>.<param>`) whose value is not the same
 * in every row, and a column for each metric some row has. `kind` and `status` columns appear
 * only when they tell rows apart (mixed kinds; an instance that failed or was not run).
 */
export function compareTable(experiments: readonly Experiment[], options: CompareOptions = {}): DataTable {
  const rows: CompareRow[] = experiments.flatMap((experiment) =>
    comparedInstances(experiment, options.stages).map((instance) => ({
      experiment,
      instance,
      params: lineageParams(experiment, instance.id),
      metrics: numericMetrics(experiment.metrics.get(instance.id)),
    })),
  );
  // Params ordered by where their stage first appears in a plan (data before poison before train), then by name.
  const stageOrder = new Map<string, number>();
  for (const e of experiments) for (const i of e.instances) if (!stageOrder.has(i.stage)) stageOrder.set(i.stage, stageOrder.size);
  const stageOf = (name: string): number => stageOrder.get(name.slice(0, name.indexOf('.'))) ?? stageOrder.size;
  const paramNames = [...new Set(rows.flatMap((r) => [...r.params.keys()]))]
    .filter((name) => !sameEverywhere(rows.map((r) => r.params.get(name))))
    .sort((a, b) => stageOf(a) - stageOf(b) || a.localeCompare(b));
  const metricColumns = METRIC_COLUMNS.filter((m) => {
    const values = rows.map((r) => r.metrics.get(m.key));
    if (values.every((v) => v === undefined)) return false;
    return !(options.onlyChanged && sameEverywhere(values));
  });
  const showKind = new Set(rows.map((r) => r.instance.kind)).size > 1;
  const statuses = rows.map((r) => r.experiment.status.get(r.instance.id) ?? 'unknown');
  const showStatus = statuses.some((s) => s !== 'succeeded' && s !== 'cached');

  const columns: TableColumn[] = [
    { name: 'run', role: 'label' },
    { name: 'instance', role: 'label' },
    ...(showKind ? [{ name: 'kind', role: 'label' as const }] : []),
    ...(showStatus ? [{ name: 'status', role: 'label' as const }] : []),
    ...paramNames.map((name) => ({ name, role: 'param' as const })),
    ...metricColumns.map((m) => ({ name: m.heading, role: 'metric' as const, unit: m.unit })),
  ];
  return {
    columns,
    rows: rows.map((r, index) => [
      r.experiment.label,
      r.instance.id,
      ...(showKind ? [r.instance.kind] : []),
      ...(showStatus ? [statuses[index]!] : []),
      ...paramNames.map((name) => r.params.get(name) ?? null),
      ...metricColumns.map((m) => r.metrics.get(m.key) ?? null),
    ]),
  };
}
