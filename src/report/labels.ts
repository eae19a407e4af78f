import type { MatrixPoint, MatrixValue } from '../pipeline/types.js';
import type { InstanceRef } from './instances.js';

/** Separator between matrix values in a label, e.g. `lenet5 · dirty`. */
export const LABEL_SEPARATOR = ' · ';

/**
 * Matrix keys that take at least two different values among the points that have them: only these
 * tell instances apart, so only they go into labels. A key that is merely absent from some points
 * (e.g. `data` on a search input) does not count. Keys keep their first-seen order, which is the
 * order the pipeline's matrix lists them (model before rate, ...).
 */
export function varyingKeys(points: readonly MatrixPoint[]): string[] {
  const keys = new Set(points.flatMap((p) => Object.keys(p)));
  return [...keys].filter((key) => new Set(points.filter((p) => key in p).map((p) => JSON.stringify(p[key]))).size > 1);
}

/**
 * Readable text for some matrix keys of one point: words stand alone (`lenet5`), numbers and
 * booleans carry their key (`rate=0.01`) because a bare number says nothing.
 */
export function describeMatrix(point: MatrixPoint, keys: readonly string[]): string {
  return keys
    .filter((key) => key in point)
    .map((key) => formatValue(key, point[key] as MatrixValue))
    .join(LABEL_SEPARATOR);
}

function formatValue(key: string, value: MatrixValue): string {
  return typeof value === 'string' && value !== '' ? value : `${key}=${String(value)}`;
}

/**
 * One unique, readable label per instance (keyed by instance id): the varying matrix values, plus
 * `search` for one-pixel-search outputs; the stage id when there is nothing to tell apart, and the
 * stage id as prefix (or finally the instance id) when labels would otherwise collide.
 */
export function instanceLabels(refs: readonly InstanceRef[]): Map<string, string> {
  const keys = varyingKeys(refs.map((r) => r.matrix));
  const stages = new Set(refs.map((r) => r.stage));
  const base = refs.map((r) => {
    const parts = [describeMatrix(r.matrix, keys)].filter((p) => p !== '');
    if (r.kind === 'one-pixel-search') parts.push('search');
    return parts.length > 0 ? parts.join(LABEL_SEPARATOR) : r.stage;
  });
  const labels = base.map((label, i) => {
    const ref = refs[i] as InstanceRef;
    const collides = base.some((other, j) => j !== i && other === label);
    if (!collides || label === ref.stage || stages.size === 1) return label;
    return `${ref.stage}: ${label}`;
  });
  return new Map(
    refs.map((r, i) => {
      const label = labels[i] as string;
      const unique = labels.filter((l) => l === label).length === 1;
      return [r.id, unique ? label : r.id];
    }),
  );
}
