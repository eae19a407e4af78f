import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { EXECUTORS, type ExecutorName } from '../pipeline/executor-settings.js';
import { UsageError } from './io.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface ParsedArgs {
  values: Values;
  positionals: string[];
}

/**
 * util.parseArgs with user-facing errors, plus one convenience: options listed in `lists` take
 * several values, so `--only a b` means `--only a --only b` (ids may contain commas, so commas
 * can't separate them).
 */
export function parseCommandArgs(command: string, argv: string[], options: Options, lists: string[] = [], hint?: (option: string) => string | undefined): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const message = err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, '') : String(err);
    const unknown = /^Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    const extra = unknown === undefined ? undefined : hint?.(unknown.replace(/^-+/, ''));
    throw new UsageError(`${command}: ${message}${extra === undefined ? '' : `. ${extra}`}`);
  }
  const values = { ...parsed.values } as Values;
  const positionals: string[] = [];
  let listOption: string | undefined;
  for (const token of parsed.tokens) {
    if (token.kind === 'option') {
      listOption = lists.includes(token.name) ? token.name : undefined;
    } else if (token.kind === 'positional') {
      if (listOption && positionals.length > 0) {
        (values[listOption] as string[]).push(token.value);
      } else {
        listOption = undefined;
        positionals.push(token.value);
      }
    } else {
      listOption = undefined;
    }
  }
  return { values, positionals };
}

export function stringList(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
}

export function optionalString(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

export function positiveInt(values: Values, name: string, fallback: number, min = 1): number {
  const v = optionalString(values, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} ${v}: expected a whole number >= ${min}`);
  return Number(v);
}

export function absolutePath(cwd: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : resolve(cwd, p);
}

export const BACKENDS = ['auto', 'node', 'wasm', 'cpu'];

export function backendOption(values: Values): string | undefined {
  const b = optionalString(values, 'backend');
  if (b !== undefined && !BACKENDS.includes(b)) throw new UsageError(`--backend ${b}: expected one of ${BACKENDS.join(', ')}`);
  return b;
}

/** Options shared by commands that open a workspace. */
export const workspaceOptions = {
  workspace: { type: 'string' },
  'cache-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
} as const satisfies Options;

/** BDLAB_MAX_INSTANCES: the most instances a pipeline may expand to (see docs/pipeline-format.md). */
export function maxInstancesOption(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['BDLAB_MAX_INSTANCES']?.trim();
  if (!raw) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`BDLAB_MAX_INSTANCES=${raw}: expected a whole number >= 1`);
  return Number(raw);
}

export function executorOption(values: Values): ExecutorName | undefined {
  const e = optionalString(values, 'executor');
  if (e !== undefined && !(EXECUTORS as readonly string[]).includes(e)) throw new UsageError(`--executor ${e}: expected one of ${EXECUTORS.join(', ')}`);
  return e as ExecutorName | undefined;
}
