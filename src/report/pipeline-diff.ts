import type { JsonPrimitive } from '../common/json.js';
import type { DataTable } from './data-table.js';
import { flattenParams, numericMetrics, type Experiment, type ExperimentInstance } from './experiment.js';
import { formatDelta, METRIC_COLUMNS, RESULT_KINDS, type MetricUnit } from './metric-columns.js';

/** What "not run" means in a table: the instance is planned on that side but has no results. */
export const NOT_RUN = 'not run';

export interface PipelineDiff {
  a: Experiment;
  b: Experiment;
  /** Per instance that differs: added, removed, params (own params changed), inputs (a different set of upstream instances), upstream (an upstream changed). */
  instances: DataTable;
  /** One row per own param whose value differs, for instances on both sides. */
  params: DataTable;
  /** One row per (result instance, metric): A, B and the change B − A. */
  metrics: DataTable;
  /** Result instances left out of `metrics` because both sides share their cache entry (identical results). */
  unchanged: string[];
  /** Instances with no results on a side, per side. */
  notRun: { side: 'A' | 'B'; ids: string[] }[];
}

function ownParams(instance: ExperimentInstance): Map<string, JsonPrimitive> {
  const out = new Map<string, JsonPrimitive>();
  flattenParams(instance.params, '', out);
  return out;
}

const same = (x: JsonPrimitive | undefined, y: JsonPrimitive | undefined): boolean => JSON.stringify(x ?? null) === JSON.stringify(y ?? null);

function mapsDiffer(x: Map<string, JsonPrimitive>, y: Map<string, JsonPrimitive>): boolean {
  return [...new Set([...x.keys(), ...y.keys()])].some((k) => !same(x.get(k), y.get(k)));
}

/**
 * What changed from A to B, like `dvc params diff` and `dvc metrics diff` together: instances
 * added and removed, own params changed, instances that only changed through an upstream, and for
 * every evaluate / one-pixel-search instance (or `stages`) the metric values on both sides with
 * their change. An instance without results on a side reads "not run" there; one with the same
 * cache entry on both sides has identical results and is only counted, unless `all`. Nothing is executed.
 */
export function diffExperiments(a: Experiment, b: Experiment, options: { stages?: readonly string[]; all?: boolean } = {}): PipelineDiff {
  const stages = options.stages;
  const aById = new Map(a.instances.map((i) => [i.id, i]));
  const bById = new Map(b.instances.map((i) => [i.id, i]));
  // B's plan order (it reads like the newer plan), then the instances only A has.
  const order = [...b.instances.map((i) => i.id), ...a.instances.map((i) => i.id).filter((id) => !bById.has(id))];

  // An instance changed when its own params or its list of inputs did, or when an upstream changed
  // (added, removed or changed itself): its outputs then differ even with the same params.
  const changed = new Map<string, boolean>();
  const isChanged = (id: string): boolean => {
    const known = changed.get(id);
    if (known !== undefined) return known;
    const ia = aById.get(id);
    const ib = bById.get(id);
    changed.set(id, false); // plans are acyclic; this only guards against malformed input
    const result = !ia || !ib || ia.kind !== ib.kind || mapsDiffer(ownParams(ia), ownParams(ib)) || ia.inputs.join('\n') !== ib.inputs.join('\n') || ib.inputs.some(isChanged);
    changed.set(id, result);
    return result;
  };
  const instanceRows: JsonPrimitive[][] = [];
  const paramRows: JsonPrimitive[][] = [];
  for (const id of order) {
    const ia = aById.get(id);
    const ib = bById.get(id);
    if (!ia) instanceRows.push(['added', id, ib!.kind]);
    else if (!ib) instanceRows.push(['removed', id, ia.kind]);
    else {
      const pa = ownParams(ia);
      const pb = ownParams(ib);
      if (mapsDiffer(pa, pb) || ia.kind !== ib.kind) {
        instanceRows.push(['params', id, ib.kind]);
        for (const name of [...new Set([...pa.keys(), ...pb.keys()])].sort()) {
          if (!same(pa.get(name), pb.get(name))) paramRows.push([id, name, pa.get(name) ?? null, pb.get(name) ?? null]);
        }
      } else if (ia.inputs.join('\n') !== ib.inputs.join('\n')) {
        instanceRows.push(['inputs', id, ib.kind]);
      } else if (isChanged(id)) {
        instanceRows.push(['upstream', id, ib.kind]);
      }
    }
  }

  const picked = (i: ExperimentInstance | undefined): boolean =>
    i !== undefined && (stages && stages.length > 0 ? stages.includes(i.stage) : RESULT_KINDS.includes(i.kind));
  const metricRows: JsonPrimitive[][] = [];
  const metricUnits: (MetricUnit | undefined)[] = [];
  const notRunA: string[] = [];
  const notRunB: string[] = [];
  const unchanged: string[] = [];
  for (const id of order) {
    const ia = aById.get(id);
    const ib = bById.get(id);
    if (!picked(ia) && !picked(ib)) continue;
    if (!options.all && ia?.cacheKey && ia.cacheKey === ib?.cacheKey && a.metrics.has(id) && b.metrics.has(id)) {
      unchanged.push(id);
      continue;
    }
    const ma = a.metrics.get(id);
    const mb = b.metrics.get(id);
    if (ia && !ma) notRunA.push(id);
    if (ib && !mb) notRunB.push(id);
    const cell = (inst: ExperimentInstance | undefined, metrics: Map<string, number>, key: string): JsonPrimitive =>
      inst === undefined ? null : metrics.size === 0 ? NOT_RUN : metrics.get(key) ?? null;
    const na = numericMetrics(ma);
    const nb = numericMetrics(mb);
    const columns = METRIC_COLUMNS.filter((m) => na.has(m.key) || nb.has(m.key));
    if (columns.length === 0) {
      metricRows.push([id, null, ia ? NOT_RUN : null, ib ? NOT_RUN : null, null]);
      metricUnits.push(undefined);
      continue;
    }
    for (const m of columns) {
      const va = na.get(m.key);
      const vb = nb.get(m.key);
      metricRows.push([id, m.heading, cell(ia, na, m.key), cell(ib, nb, m.key), va !== undefined && vb !== undefined ? formatDelta(vb - va, m.unit) : null]);
      metricUnits.push(m.unit);
    }
  }

  return {
    a,
    b,
    instances: {
      columns: [{ name: 'change', role: 'label' }, { name: 'instance', role: 'label' }, { name: 'kind', role: 'label' }],
      rows: instanceRows,
    },
    params: {
      columns: [{ name: 'instance', role: 'label' }, { name: 'param', role: 'label' }, { name: 'A', role: 'param' }, { name: 'B', role: 'param' }],
      rows: paramRows,
    },
    metrics: {
      columns: [
        { name: 'instance', role: 'label' },
        { name: 'metric', role: 'label' },
        { name: 'A', role: 'metric' },
        { name: 'B', role: 'metric' },
        { name: 'change', role: 'delta' },
      ],
      rows: metricRows,
      rowUnits: metricUnits,
    },
    unchanged,
    notRun: [
      ...(notRunA.length > 0 ? [{ side: 'A' as const, ids: notRunA }] : []),
      ...(notRunB.length > 0 ? [{ side: 'B' as const, ids: notRunB }] : []),
    ],
  };
}
