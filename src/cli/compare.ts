import { compareTable } from '../report/compare-table.js';
import { renderTable, TABLE_FORMATS, type TableFormat } from '../report/data-table.js';
import type { Experiment } from '../report/experiment.js';
import { experimentOfRun } from '../report/run-experiment.js';
import { resolveRuns } from '../report/run-refs.js';
import { absolutePath, flag, optionalString, parseCommandArgs, stringList, workspaceOptions } from './args.js';
import { workspaceToRead } from './workspace-arg.js';
import type { Command } from './command.js';
import { EXIT_OK, UsageError, type CliIo } from './io.js';

const USAGE = `Usage: bdlab compare RUN... [--pipeline NAME]... [options]

Compares runs in one table, one row per (run, instance): the run, the instance, a column for
every resolved param (own or upstream, as <stage>.<param>) whose value differs between the rows,
and the metrics (clean accuracy, targeted and non-targeted success, confidence, ...). Rows are the
evaluate and one-pixel-search instances unless --stage names others. RUN is a run id from
"bdlab runs", a unique prefix or suffix of one, or "latest". Runs nothing.

Options:
  --pipeline NAME     add every run of pipeline NAME (oldest first); repeatable
  --stage STAGE...    rows for these stages' instances (e.g. --stage train)
  --only-changed      also hide metric columns whose value is the same in every row
  --format F          table (default), md (Markdown), csv or json; csv and json hold raw
                      numbers (rates as fractions), table and md percentages
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

function formatOption(values: Parameters<typeof optionalString>[0]): TableFormat {
  const format = optionalString(values, 'format') ?? 'table';
  if (!(TABLE_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${format}: expected one of ${TABLE_FORMATS.join(', ')}`);
  return format as TableFormat;
}

/** Runs named by RUN arguments and --pipeline, read as experiments; throws UsageError for a bad ref. */
export async function experimentsFromArgs(command: string, io: CliIo, values: Parameters<typeof optionalString>[0], refs: string[]): Promise<Experiment[]> {
  const pipelines = stringList(values, 'pipeline');
  if (refs.length === 0 && pipelines.length === 0) throw new UsageError(`${command}: expected at least one RUN (an id, a unique part of one, or "latest") or --pipeline NAME`);
  const ws = await workspaceToRead(io, values, command);
  const runs = await resolveRuns(ws.runsDir, refs, pipelines);
  if (!runs.ok) throw new UsageError(`${command}: ${runs.error}`);
  const experiments: Experiment[] = [];
  for (const run of runs.value) {
    const experiment = await experimentOfRun(run, ws.root);
    if (typeof experiment === 'string') throw new UsageError(`${command}: ${experiment}`);
    experiments.push(experiment);
  }
  return experiments;
}

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare runs: params that differ and metrics, one row per instance',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs(
      'compare',
      argv,
      {
        ...workspaceOptions,
        pipeline: { type: 'string', multiple: true },
        stage: { type: 'string', multiple: true },
        'only-changed': { type: 'boolean' },
        format: { type: 'string' },
      },
      ['stage'],
    );
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const format = formatOption(values);
    const experiments = await experimentsFromArgs('compare', io, values, positionals);
    const stages = stringList(values, 'stage');
    const known = new Set(experiments.flatMap((e) => e.instances.map((i) => i.stage)));
    const unknown = stages.filter((s) => !known.has(s));
    if (unknown.length > 0) throw new UsageError(`compare: --stage ${unknown.join(', ')}: no such stage in the compared runs; stages are: ${[...known].join(', ')}`);
    const table = compareTable(experiments, { stages, onlyChanged: flag(values, 'only-changed') });
    if (table.rows.length === 0) {
      io.err(`bdlab compare: the compared runs have no ${stages.length > 0 ? `instances of ${stages.join(', ')}` : 'evaluate or one-pixel-search instances'}; choose rows with --stage (stages: ${[...known].join(', ')})`);
      return EXIT_OK;
    }
    if (format === 'table') {
      for (const e of experiments) {
        const git = e.git ? ` at git ${e.git.commit.slice(0, 10)}${e.git.dirty ? ' (modified)' : ''}` : '';
        io.out(`run ${e.label}: ${e.pipeline} (${e.file}${git})`);
      }
      io.out('');
    }
    io.out(renderTable(table, format));
    return EXIT_OK;
  },
};
