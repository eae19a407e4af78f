import type { JsonObject } from '../common/json.js';

/**
 * What one instance of a stage needs (`stages.<id>.resources`). Both executors honour it: locally
 * `cpus` is the instance's thread cap and takes that many `--jobs` slots, `time` and `mem` are
 * enforced by the runner; on Slurm they become `--cpus-per-task`, `--time` and `--mem`.
 * Not part of any cache key: where a stage runs doesn't change what it computes.
 */
export interface StageResources {
  cpus?: number;
  /** As written: `500M`, `4G`, or a number of megabytes (sbatch's `--mem` syntax). */
  mem?: string | number;
  /** As written: minutes, `M:S`, `H:M:S`, `D-H`, `D-H:M` or `D-H:M:S` (sbatch's `--time` syntax). */
  time?: string | number;
}

const MEMORY_PATTERN = '^[1-9][0-9]*[KMGT]?$';
const TIME_PATTERN = '^(?:[0-9]+-[0-9]+(?::[0-9]{1,2}){0,2}|[0-9]+(?::[0-9]{1,2}){0,2})$';

export function memorySchema(what: string): JsonObject {
  return {
    type: ['string', 'integer'],
    minimum: 1,
    pattern: MEMORY_PATTERN,
    'x-expected': 'a memory amount such as 500M, 4G or 2048 (megabytes)',
    description: `${what}: a number with a unit K, M, G or T (\`500M\`, \`4G\`), or a plain number of megabytes, as sbatch's --mem.`,
  };
}

export function timeSchema(what: string): JsonObject {
  return {
    type: ['string', 'integer'],
    minimum: 1,
    pattern: TIME_PATTERN,
    'x-expected': 'a time limit such as 30 (minutes), 1:30 (M:S), 2:00:00 (H:M:S) or 1-12:00:00 (D-H:M:S)',
    description: `${what}: minutes, or \`M:S\`, \`H:M:S\`, \`D-H\`, \`D-H:M\`, \`D-H:M:S\`, as sbatch's --time (Slurm rounds up to whole minutes).`,
  };
}

export function resourcesSchema(): JsonObject {
  return {
    type: 'object',
    additionalProperties: false,
    description:
      'What one instance of this stage needs; both executors honour it. Locally `cpus` caps the stage\'s threads and takes that many --jobs slots, and an instance that runs past `time` or grows past `mem` is stopped; on Slurm they become --cpus-per-task, --time and --mem. Not part of the cache key.',
    properties: {
      cpus: { type: 'integer', minimum: 1, description: 'CPU cores for one instance (its thread cap).' },
      mem: memorySchema('Memory for one instance'),
      time: timeSchema('Time limit for one instance'),
    },
  };
}

/** Seconds in a time limit written as sbatch's --time. Assumes the schema's pattern held. */
export function timeLimitSeconds(time: string | number): number {
  if (typeof time === 'number') return time * 60;
  const dash = time.indexOf('-');
  if (dash >= 0) {
    const days = Number(time.slice(0, dash));
    const [h = 0, m = 0, s = 0] = time.slice(dash + 1).split(':').map(Number);
    return ((days * 24 + h) * 60 + m) * 60 + s;
  }
  const parts = time.split(':').map(Number);
  if (parts.length === 1) return parts[0]! * 60;
  if (parts.length === 2) return parts[0]! * 60 + parts[1]!;
  return (parts[0]! * 60 + parts[1]!) * 60 + parts[2]!;
}

/** `1:30` for 90 s, `1:00:00` for an hour: how messages show a limit. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

const UNIT_BYTES: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes in a memory amount written as sbatch's --mem (a plain number is megabytes). */
export function memoryBytes(mem: string | number): number {
  if (typeof mem === 'number') return mem * UNIT_BYTES['M']!;
  const unit = mem.at(-1)!;
  return unit in UNIT_BYTES ? Number(mem.slice(0, -1)) * UNIT_BYTES[unit]! : Number(mem) * UNIT_BYTES['M']!;
}
