import type { PlanRow } from '../executor/plan-status.js';
import { planStatus } from '../executor/plan-status.js';
import { shortKey } from '../executor/fingerprint.js';
import { flag, parseCommandArgs, stringList, workspaceOptions } from './args.js';
import type { Command } from './command.js';
import { EXIT_OK, UsageError, type CliIo } from './io.js';
import { openFromArgs } from './open.js';
import { runOptionName } from './run-options.js';
import { formatTable } from './table.js';

const USAGE = `Usage: bdlab plan FILE [options]

Prints the stage instances of FILE in execution order, each marked "cached" (its outputs are in
the cache and verified) or "will run", with its cache key. A key shows as "?" while an upstream
still has to run, because upstream outputs are part of the key. Runs nothing.

Options:
  --only ID...        plan only these instances or stages, plus what they need
  --force ID...       treat these as rebuilt
  --cache-dir DIR     cache location, may be outside the workspace (default: $BDLAB_CACHE_DIR,
                      then settings.cache_dir inside the workspace, then .bdlab/cache)
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

export const planCommand: Command = {
  name: 'plan',
  summary: 'show the instances a run would execute, with cache status',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(
      'plan',
      argv,
      { ...workspaceOptions, only: { type: 'string', multiple: true }, force: { type: 'string', multiple: true } },
      ['only', 'force'],
      // A run's command line, pasted with "run" changed to "plan": point at the dry run, which takes it as is.
      (option) => {
        const name = runOptionName(option);
        return name === undefined ? undefined : `--${name} is an option of bdlab run; to plan a run's command line as it is, use "bdlab run FILE ... --dry-run"`;
      },
    );
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(`plan: expected exactly one pipeline FILE, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    const opened = await openFromArgs(io, positionals[0]!, values, { only: stringList(values, 'only'), force: stringList(values, 'force') });
    if (typeof opened === 'number') return opened;
    const rows = await planStatus(opened.plan, opened.versions, opened.cache, opened.selection);
    printPlanRows(io, opened.plan.name, rows);
    await opened.memo.save().catch(() => undefined);
    return EXIT_OK;
  },
};

export function printPlanRows(io: CliIo, name: string, rows: PlanRow[]): void {
  const cached = rows.filter((r) => r.status === 'cached').length;
  io.out(`plan ${name}: ${rows.length} instance(s), ${cached} cached, ${rows.length - cached} will run`);
  if (rows.length === 0) return;
  const label = (r: PlanRow): string => (r.status === 'cached' ? 'cached' : r.status === 'forced' ? 'will run (forced)' : r.status === 'corrupt' ? 'will run (corrupt entry)' : 'will run');
  io.out(
    formatTable(
      ['#', 'status', 'key', 'kind', 'instance'],
      rows.map((r, i) => [String(i + 1), label(r), r.key ? shortKey(r.key) : '?', r.kind, r.id]),
      '  ',
    ),
  );
}
