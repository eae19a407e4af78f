import type { JsonObject } from '../common/json.js';
import { memorySchema, timeSchema } from './resources.js';

export const EXECUTORS = ['local', 'slurm'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

/** `settings.slurm` as written; defaults below. */
export interface SlurmSettings {
  partition?: string;
  account?: string;
  qos?: string;
  /** Time limit of jobs whose stage has no `resources.time`. */
  time?: string | number;
  /** Memory of jobs whose stage has no `resources.mem`. */
  mem?: string | number;
  /** Passed to sbatch as they are, after the options bdlab writes. */
  sbatch_args?: string[];
  poll_interval?: number;
  retries?: number;
}

/** The defaults of settings the schema below describes; stated once, used by the executors. */
export const EXECUTOR_DEFAULTS = {
  /** `--jobs` when not given: processes at once locally; jobs in the queue at once on Slurm. */
  jobs: { local: 1, slurm: 100 } satisfies Record<ExecutorName, number>,
  /** Seconds between two squeue calls (one call covers every job of the run). */
  pollInterval: 2,
  /** How often a job that Slurm preempted or lost with its node is submitted again. */
  retries: 1,
} as const;

export function executorSettingsSchema(): JsonObject {
  return {
    executor: {
      enum: [...EXECUTORS],
      description: `Where instances run: \`local\` (child processes of bdlab, the default) or \`slurm\` (one sbatch job per instance; the workspace must be on a filesystem the compute nodes share). \`--executor\` overrides it.`,
    },
    slurm: {
      type: 'object',
      additionalProperties: false,
      description: 'Options of the Slurm executor. Per-stage `resources` override `time` and `mem`.',
      properties: {
        partition: { type: 'string', minLength: 1, description: 'sbatch --partition.' },
        account: { type: 'string', minLength: 1, description: 'sbatch --account.' },
        qos: { type: 'string', minLength: 1, description: 'sbatch --qos.' },
        time: timeSchema('Time limit of jobs whose stage sets no `resources.time`'),
        mem: memorySchema('Memory of jobs whose stage sets no `resources.mem`'),
        sbatch_args: {
          type: 'array',
          items: { type: 'string' },
          description: 'Further sbatch arguments, one per item, e.g. `["--gres=gpu:1", "--constraint=avx2"]`; written into each job script after the ones bdlab writes.',
        },
        poll_interval: {
          type: 'number',
          minimum: 0.2,
          default: EXECUTOR_DEFAULTS.pollInterval,
          description: 'Seconds between two queue queries; each query is one squeue call for all jobs of the run.',
        },
        retries: {
          type: 'integer',
          minimum: 0,
          default: EXECUTOR_DEFAULTS.retries,
          description: 'How often a job that Slurm preempted (PREEMPTED) or lost with its node (NODE_FAIL, BOOT_FAIL) is submitted again.',
        },
      },
    },
  };
}
