import type { YamlPath } from './source-map.js';
import type { NeedEdge } from './graph.js';
import { formatInstanceId, formatMatrixValue } from './instance-id.js';
import type { InstanceId, MatrixPoint, MatrixValue, StageId } from './types.js';

/** All instances of one stage, in a stable order. */
export interface StageExpansion {
  stage: StageId;
  /** Own matrix keys in declaration order, then inherited keys in order of first appearance. */
  keys: string[];
  /** For each key, the stage whose own matrix defines it (for pointing at the value in errors). */
  keyOrigin: Map<string, StageId>;
  points: MatrixPoint[];
  ids: InstanceId[];
  /** Per instance, the upstream instances it consumes: needs order, then upstream order. */
  inputs: InstanceId[][];
}

export interface StageToExpand {
  id: StageId;
  ownKeys: string[];
  ownValues: MatrixValue[][];
  exclude: Record<string, MatrixValue>[];
  needs: NeedEdge[];
}

export interface ExpansionProblem {
  path: YamlPath;
  message: string;
}

type Combo = Record<string, MatrixValue>;

/**
 * Tuple identity of some matrix values: a type tag plus the text of each value, so `1` and `"1"`
 * stay apart. Built by concatenation because it runs for every instance and edge of a sweep.
 */
export function tupleKey(point: MatrixPoint, keys: readonly string[]): string {
  let key = '';
  for (const name of keys) {
    const value = point[name];
    key += (typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : typeof value === 'boolean' ? 'b' : 'z') + String(value) + '\u0000';
  }
  return key;
}

function indexBy<T>(items: readonly T[], pointOf: (item: T) => MatrixPoint, keys: readonly string[]): Map<string, T[]> {
  const index = new Map<string, T[]>();
  for (const item of items) {
    const key = tupleKey(pointOf(item), keys);
    const bucket = index.get(key);
    if (bucket) bucket.push(item);
    else index.set(key, [item]);
  }
  return index;
}

/**
 * Instances of a stage from its own matrix and what its needs pass down (see docs/pipeline-format.md,
 * "Matrices across needs"). Joins go through hash indexes on the shared keys, so a 10^5-instance
 * sweep costs time linear in the number of instances and edges.
 */
export function expandStage(stage: StageToExpand, upstream: ReadonlyMap<string, StageExpansion>): { expansion?: StageExpansion; problems: ExpansionProblem[] } {
  const problems: ExpansionProblem[] = [];
  const keyOrigin = new Map<string, StageId>(stage.ownKeys.map((key) => [key, stage.id]));

  // Keys each edge passes down, and the distinct combinations of them.
  let inheritedKeys: string[] = [];
  let inherited: Combo[] = [{}];
  for (const edge of stage.needs) {
    const source = upstream.get(edge.stage)!;
    let exported: string[];
    if (edge.fanIn === true) exported = [];
    else if (edge.fanIn === false) exported = source.keys;
    else {
      const gathered = edge.fanIn;
      gathered.forEach((key, position) => {
        if (!source.keys.includes(key)) {
          const available = source.keys.length === 0 ? `"${edge.stage}" has no matrix keys` : `its keys are ${source.keys.join(', ')}`;
          problems.push({ path: [...edge.path, 'fan_in', position], message: `fan_in key "${key}" is not a matrix key of stage "${edge.stage}"; ${available}` });
        }
      });
      exported = source.keys.filter((key) => !gathered.includes(key));
    }
    if (exported.length === 0) continue;
    for (const key of exported) if (!keyOrigin.has(key)) keyOrigin.set(key, source.keyOrigin.get(key)!);

    // The common case, a plain fan-out as the first keyed edge: the combinations are the upstream points.
    if (inheritedKeys.length === 0 && exported.length === source.keys.length) {
      inherited = source.points;
      inheritedKeys = [...exported];
      continue;
    }
    const projections = new Map<string, Combo>();
    for (const point of source.points) {
      const key = tupleKey(point, exported);
      if (!projections.has(key)) {
        const combo: Combo = {};
        for (const name of exported) combo[name] = point[name]!;
        projections.set(key, combo);
      }
    }
    const shared = exported.filter((key) => inheritedKeys.includes(key));
    const byShared = indexBy([...projections.values()], (combo) => combo, shared);
    const joined: Combo[] = [];
    for (const combo of inherited) {
      for (const match of byShared.get(tupleKey(combo, shared)) ?? []) joined.push({ ...combo, ...match });
    }
    inherited = joined;
    inheritedKeys = [...inheritedKeys, ...exported.filter((key) => !inheritedKeys.includes(key))];
  }
  if (problems.length > 0) return { problems };

  const own = ownCombos(stage);
  const joinKeys = stage.ownKeys.filter((key) => inheritedKeys.includes(key));
  const inheritedOnly = inheritedKeys.filter((key) => !stage.ownKeys.includes(key));
  const keys = [...stage.ownKeys, ...inheritedOnly];
  const inheritedByJoin = indexBy(inherited, (combo) => combo, joinKeys);
  const points: MatrixPoint[] = [];
  for (const combo of own) {
    for (const match of inheritedByJoin.get(tupleKey(combo, joinKeys)) ?? []) {
      const point: Combo = {};
      for (const key of keys) point[key] = key in combo ? combo[key]! : match[key]!;
      points.push(point);
    }
  }
  if (points.length === 0) {
    const reason = own.length === 0
      ? 'every combination of its matrix is excluded'
      : `its own values of ${joinKeys.map((key) => `"${key}"`).join(', ')} never agree with the values its needs pass down`;
    problems.push({ path: ['stages', stage.id], message: `stage "${stage.id}" has no instances: ${reason}` });
    return { problems };
  }

  const ids = points.map((point) => formatInstanceId(stage.id, point));
  const inputs: InstanceId[][] = points.map(() => []);
  for (const edge of stage.needs) {
    const source = upstream.get(edge.stage)!;
    const shared = keys.filter((key) => source.keys.includes(key));
    const positions = source.ids.map((_, position) => position);
    const byShared = indexBy(positions, (position) => source.points[position]!, shared);
    let reported = false;
    points.forEach((point, index) => {
      const matches = byShared.get(tupleKey(point, shared));
      if (matches) for (const position of matches) inputs[index]!.push(source.ids[position]!);
      else if (!reported) {
        reported = true;
        problems.push({ path: edge.path, message: `instance ${ids[index]} gets no input from stage "${edge.stage}": no instance of it agrees on ${shared.map((key) => `${key}=${formatMatrixValue(point[key]!)}`).join(', ')}` });
      }
    });
  }
  if (problems.length > 0) return { problems };
  return { expansion: { stage: stage.id, keys, keyOrigin, points, ids, inputs }, problems };
}

/** The product of the own matrix (first key outermost), minus excluded combinations. */
function ownCombos(stage: StageToExpand): Combo[] {
  const sizes = stage.ownValues.map((values) => values.length);
  const total = sizes.reduce((product, size) => product * size, 1);
  const combos: Combo[] = [];
  for (let serial = 0; serial < total; serial++) {
    const combo: Combo = {};
    let rest = serial;
    for (let position = stage.ownKeys.length - 1; position >= 0; position--) {
      const size = sizes[position]!;
      combo[stage.ownKeys[position]!] = stage.ownValues[position]![rest % size]!;
      rest = Math.floor(rest / size);
    }
    if (!stage.exclude.some((rule) => Object.entries(rule).every(([key, value]) => combo[key] === value))) combos.push(combo);
  }
  return combos;
}

/** Generated matrix values live in matrix-range.ts; their count is what instance limits need. */
export { expandMatrixValues, matrixValueSize } from './matrix-range.js';
