import type { JsonObject, JsonValue } from '../common/json.js';
import type { YamlPath } from './source-map.js';
import type { MatrixValue } from './types.js';

/**
 * Matrix values can be generated instead of listed: `row: { range: [0, 31, 4] }` is 0, 4, ..., 28,
 * and a list may mix generators with plain values (`row: [{ range: [0, 28, 4] }, 31]`). This file
 * is the whole of that feature: the schema of a generator, its size (known before anything is
 * expanded, so a limit on the number of instances can be checked cheaply) and its values, each
 * remembered with the YAML node that produced it so later errors can point there.
 */

/** More values than this from one generator is almost certainly a typo (a step of 0.001 meant as 1). */
export const MAX_RANGE_VALUES = 100_000;

/** JSON schema of a generator, shared by the pipeline structure schema and the editor schema. */
export function matrixRangeSchema(): JsonObject {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['range'],
    description:
      'Generated values: `range: [start, stop]` or `[start, stop, step]` gives start, start + step, ... up to and including stop when it is hit (step defaults to 1 and may be negative to count down).',
    properties: {
      range: {
        type: 'array',
        minItems: 2,
        maxItems: 3,
        items: { type: 'number' },
        description: '[start, stop] or [start, stop, step]; stop is included when start + k * step hits it.',
      },
    },
  };
}

/** The numbers of a well-formed generator; anything else is left to the structure schema's messages. */
function rangeNumbers(value: JsonValue): { start: number; stop: number; step: number } | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const range = value['range'];
  if (!Array.isArray(range) || range.length < 2 || range.length > 3 || !range.every((n) => typeof n === 'number')) return undefined;
  const [start, stop, step = 1] = range as number[];
  return { start: start!, stop: stop!, step };
}

/** What is wrong with a generator's numbers (the structure schema has checked its shape), or undefined. */
function rangeProblem(start: number, stop: number, step: number): string | undefined {
  if (![start, stop, step].every(Number.isFinite)) return 'range values must be finite numbers';
  if (step === 0) return 'range step must not be 0';
  if ((stop - start) * step < 0) {
    return `range [${start}, ${stop}, ${step}] never reaches ${stop} from ${start}; use a ${step > 0 ? 'negative' : 'positive'} step (e.g. ${-step}) or swap start and stop`;
  }
  const count = rangeCount(start, stop, step);
  if (count > MAX_RANGE_VALUES) return `range [${start}, ${stop}, ${step}] gives ${count} values, more than the ${MAX_RANGE_VALUES} one generator may give; use a larger step`;
  return undefined;
}

/** Values start, start + step, ... not past stop; the epsilon keeps 0.1-steps from losing their last value. */
function rangeCount(start: number, stop: number, step: number): number {
  return Math.floor((stop - start) / step + 1e-9) + 1;
}

/**
 * How many values a matrix entry (a list, or a single generator) stands for, without expanding it;
 * a malformed entry counts what can be counted (a bad generator as 0). For instance-count limits.
 */
export function matrixValueSize(entry: JsonValue): number {
  const items = Array.isArray(entry) ? entry : [entry];
  let size = 0;
  for (const item of items) {
    const numbers = rangeNumbers(item);
    if (numbers) {
      const { start, stop, step } = numbers;
      const countable = [start, stop, step].every(Number.isFinite) && step !== 0 && (stop - start) * step >= 0;
      if (countable) size += rangeCount(start, stop, step);
    } else if (item === null || typeof item !== 'object') size += 1;
  }
  return size;
}

export interface ExpandedMatrixValues {
  values: MatrixValue[];
  /** Per value, the YAML path of the node that wrote or generated it. */
  sources: YamlPath[];
  problems: { path: YamlPath; message: string }[];
}

/**
 * The values of one matrix key, generators expanded in place. Generated numbers are rounded to 12
 * significant digits so `{ range: [0, 0.3, 0.1] }` gives 0.3 and not 0.30000000000000004 (ids and
 * cache keys show the value as written). `path` is the key's YAML path (`stages.x.matrix.row`).
 */
export function expandMatrixValues(entry: JsonValue, path: YamlPath): ExpandedMatrixValues {
  const result: ExpandedMatrixValues = { values: [], sources: [], problems: [] };
  const items: [JsonValue, YamlPath][] = Array.isArray(entry) ? entry.map((item, index) => [item, [...path, index]]) : [[entry, path]];
  for (const [item, itemPath] of items) {
    if (item === null || typeof item !== 'object') {
      result.values.push(item);
      result.sources.push(itemPath);
      continue;
    }
    const numbers = rangeNumbers(item);
    if (!numbers) continue;
    const { start, stop, step } = numbers;
    const problem = rangeProblem(start, stop, step);
    if (problem) {
      result.problems.push({ path: [...itemPath, 'range'], message: problem });
      continue;
    }
    const count = rangeCount(start, stop, step);
    for (let k = 0; k < count; k++) {
      result.values.push(Number((start + k * step).toPrecision(12)));
      result.sources.push([...itemPath, 'range']);
    }
  }
  return result;
}
