import type { JsonObject, JsonPrimitive, JsonValue } from '../common/json.js';

/** One stage instance as compare and diff see it: plan.json's record, whichever side it came from. */
export interface ExperimentInstance {
  id: string;
  stage: string;
  kind: string;
  matrix: Readonly<Record<string, JsonPrimitive>>;
  params: JsonObject;
  /** Upstream instance ids, as in the plan. */
  inputs: readonly string[];
  /** Null when unknown: an upstream has no cache entry yet, so its output (part of the key) does not exist. */
  cacheKey: string | null;
}

/**
 * One side of a comparison: a recorded run, or a pipeline file at a git revision (or in the working
 * tree) looked up in the cache. Everything compare, diff and the multi-run report need, read once.
 */
export interface Experiment {
  /** How tables name this side: the run id, or the revision as the user wrote it. */
  label: string;
  origin: 'run' | 'revision';
  pipeline: string;
  /** The pipeline file, relative to the workspace where possible. */
  file: string;
  git?: { commit: string; dirty: boolean };
  instances: readonly ExperimentInstance[];
  /** Per instance: run status (succeeded, cached, failed, ...) or, for a revision, cached / not run. */
  status: ReadonlyMap<string, string>;
  /** Per instance with results: its metrics.json (the run's copy, else the cache entry's). */
  metrics: ReadonlyMap<string, JsonObject>;
  /** The pipeline file `bdlab run` takes to build this side's missing instances (a run's own copy of its file). */
  runFile: string;
  /** A shell command that must write runFile first (a file at a git revision that differs from the working tree). */
  prepareRunFile?: string;
  /** Per instance with results: the directory holding its outputs (metrics.json, history.json, figures). */
  outputs: ReadonlyMap<string, string>;
}

/** Nested params as dotted names (`trigger.color`); arrays stay whole, written as compact JSON. */
export function flattenParams(value: JsonValue, prefix: string, out: Map<string, JsonPrimitive>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenParams(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value)) {
    out.set(prefix, JSON.stringify(value));
  } else {
    out.set(prefix, value);
  }
}

/**
 * The resolved params that shaped one instance: its own and those of every upstream instance,
 * named `<stage>.<param>` (`poison.rate`, `train.epochs`), because the numbers of an evaluation
 * depend on how its model was trained and its data poisoned. Where one stage is reached through
 * several upstream instances (a fan-in), the nearest one counts.
 */
export function lineageParams(experiment: Experiment, id: string): Map<string, JsonPrimitive> {
  const byId = new Map(experiment.instances.map((i) => [i.id, i]));
  const out = new Map<string, JsonPrimitive>();
  const seenStages = new Set<string>();
  const seen = new Set<string>();
  let frontier = [id];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const current of frontier) {
      const inst = byId.get(current);
      if (!inst || seen.has(current)) continue;
      seen.add(current);
      if (!seenStages.has(inst.stage)) {
        seenStages.add(inst.stage);
        const flat = new Map<string, JsonPrimitive>();
        flattenParams(inst.params, '', flat);
        for (const [k, v] of flat) out.set(`${inst.stage}.${k}`, v);
      }
      next.push(...inst.inputs);
    }
    frontier = next;
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The numeric top-level fields of a metrics object (attack rates, counts, losses). */
export function numericMetrics(metrics: JsonObject | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(metrics ?? {})) if (typeof v === 'number') out.set(k, v);
  return out;
}
