import { workspaceOptions, type Options } from './args.js';

/** `bdlab run`'s options (plan points at them when it is given one of them). */
export const RUN_OPTIONS = {
  ...workspaceOptions,
  jobs: { type: 'string', short: 'j' },
  threads: { type: 'string' },
  only: { type: 'string', multiple: true },
  force: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  'fail-fast': { type: 'boolean' },
  backend: { type: 'string' },
  executor: { type: 'string' },
  'data-path': { type: 'string', multiple: true },
  verbose: { type: 'boolean', short: 'v' },
} as const satisfies Options;

/** The long name of one of run's options given as `jobs` or its short form `j`; undefined if run has no such option. */
export function runOptionName(option: string): string | undefined {
  if (option in RUN_OPTIONS) return option;
  return Object.entries(RUN_OPTIONS).find(([, spec]) => 'short' in spec && spec.short === option)?.[0];
}
