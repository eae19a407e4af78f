import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveRunRef } from '../executor/run-dir.js';
import { readRun } from '../executor/run-history.js';
import { markdownTable, rowObjects, textTable, type DataTable } from '../report/data-table.js';
import type { Experiment } from '../report/experiment.js';
import { diffExperiments, type PipelineDiff } from '../report/pipeline-diff.js';
import { experimentOfRevision } from '../report/revision-experiment.js';
import { experimentOfRun } from '../report/run-experiment.js';
import { shellQuote } from '../report/shell-quote.js';
import { absolutePath, flag, optionalString, parseCommandArgs, stringList, workspaceOptions } from './args.js';
import { workspaceToRead } from './workspace-arg.js';
import type { Command } from './command.js';
import { EXIT_INVALID, EXIT_OK, UsageError, type CliIo } from './io.js';

const USAGE = `Usage: bdlab diff A [B] [FILE] [options]

What changed between two versions of an experiment, and what it did to the numbers: instances
added and removed, params changed per instance (and instances changed only through an upstream),
and for each evaluate and one-pixel-search instance its metrics on both sides with the change
B − A. A and B are runs ("latest", a run id or a unique part of one) or, with FILE, git
revisions of the pipeline file (HEAD~1, a branch, a tag); a revision's file is read with
"git show", never checked out. Without B, B is FILE as it is in the working tree.

Metrics of a git revision come from the cache: an instance whose cache entry exists shows the
metrics recorded with it, the others read "not run", and the command that would run them is
printed. Nothing is executed.

Examples:
  bdlab diff HEAD~1 HEAD pipelines/paper.yaml
  bdlab diff HEAD pipelines/quickstart.yaml       (last commit vs working tree)
  bdlab diff 20261128T101500Z latest              (two runs)

Options:
  --stage STAGE...    metric rows for these stages' instances (e.g. --stage train)
  --all               also list the metrics of instances whose result is the same cache
                      entry on both sides (by default they are only counted)
  --format F          table (default), md (Markdown) or json
  --cache-dir DIR     cache to look results up in (default: settings.cache_dir, then .bdlab/cache)
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

const DIFF_FORMATS = ['table', 'md', 'json'];

/** Splits `A [B] [FILE]`: the last argument is FILE when it names a YAML file or an existing file. */
function splitArgs(positionals: string[], cwd: string): { a: string; b?: string; file?: string } {
  const looksLikeFile = (p: string): boolean => /\.ya?ml$/i.test(p) || existsSync(resolve(cwd, p));
  if (positionals.length === 3) return { a: positionals[0]!, b: positionals[1]!, file: positionals[2]! };
  if (positionals.length === 2) {
    return looksLikeFile(positionals[1]!) ? { a: positionals[0]!, file: positionals[1]! } : { a: positionals[0]!, b: positionals[1]! };
  }
  throw new UsageError(`diff: expected A B (two runs), A B FILE (two git revisions or runs of FILE) or A FILE (A against the working tree), got ${positionals.length === 0 ? 'nothing' : positionals.join(' ')}`);
}

export const diffCommand: Command = {
  name: 'diff',
  summary: 'what changed between two runs or git revisions: params, instances, metric deltas',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs('diff', argv, { ...workspaceOptions, stage: { type: 'string', multiple: true }, format: { type: 'string' }, all: { type: 'boolean' } }, ['stage']);
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const format = optionalString(values, 'format') ?? 'table';
    if (!DIFF_FORMATS.includes(format)) throw new UsageError(`--format ${format}: expected one of ${DIFF_FORMATS.join(', ')}`);
    const { a, b, file } = splitArgs(positionals, io.cwd);
    const cacheDir = absolutePath(io.cwd, optionalString(values, 'cache-dir'));
    const ws = await workspaceToRead(io, values, 'diff');

    const side = async (ref: string | undefined): Promise<Experiment | string> => {
      if (file !== undefined) {
        const fromGit = await experimentOfRevision({
          file: resolve(io.cwd, file),
          ...(ref !== undefined ? { revision: ref } : {}),
          workspace: ws.root,
          ...(cacheDir !== undefined ? { cacheDir } : {}),
          env: io.env,
          cwd: io.cwd,
        });
        if (fromGit.ok) return fromGit.value;
        // An invalid file at a revision is reported as such; otherwise the ref may still name a run.
        const runId = ref === undefined ? undefined : await resolveRunRef(ws.runsDir, ref);
        if (!runId) return fromGit.error;
        return experimentOfRun(await readRun(ws.runsDir, runId), ws.root, io.cwd);
      }
      const runId = await resolveRunRef(ws.runsDir, ref!);
      if (!runId) return `no run "${ref}" in ${ws.runsDir} (or it matches several); to compare git revisions, name the pipeline FILE too`;
      return experimentOfRun(await readRun(ws.runsDir, runId), ws.root, io.cwd);
    };
    const sides = [await side(a), await side(b)];
    for (const s of sides) {
      if (typeof s === 'string') {
        io.err(`bdlab diff: ${s}`);
        return EXIT_INVALID;
      }
    }
    const [sa, sb] = sides as [Experiment, Experiment];
    const diff = diffExperiments(sa, sb, { stages: stringList(values, 'stage'), all: flag(values, 'all') });
    if (format === 'json') io.out(JSON.stringify(diffJson(diff), null, 2));
    else io.out(diffText(diff, format === 'md' ? markdownTable : textTable));
    return EXIT_OK;
  },
};

function describe(name: string, e: Experiment): string {
  const git = e.git ? ` at git ${e.git.commit.slice(0, 10)}${e.git.dirty ? ' (modified)' : ''}` : '';
  const results = e.instances.filter((i) => e.status.get(i.id) === 'succeeded' || e.status.get(i.id) === 'cached').length;
  const origin = e.origin === 'run' ? `run ${e.label}` : e.label;
  return `${name}: ${origin}: ${e.pipeline} (${e.file}${git}), ${e.instances.length} instances, ${results} with results`;
}

/** The command that would give a side's "not run" instances their results. */
export function runCommandFor(e: Experiment, ids: readonly string[]): string {
  const run = `bdlab run ${shellQuote(e.runFile)} --only ${ids.map(shellQuote).join(' ')}`;
  return e.prepareRunFile ? `${e.prepareRunFile} && ${run}` : run;
}

function diffText(diff: PipelineDiff, render: (t: DataTable) => string): string {
  const section = (title: string, table: DataTable, none: string): string => `${title}\n${table.rows.length > 0 ? render(table) : none}`;
  const counts = (change: string): number => diff.instances.rows.filter((r) => r[0] === change).length;
  const parts = [
    `${describe('A', diff.a)}\n${describe('B', diff.b)}`,
    section(
      `Instances: ${counts('added')} added, ${counts('removed')} removed, ${counts('params')} with changed params, ${counts('inputs') + counts('upstream')} changed through their inputs`,
      diff.instances,
      '(the same instances with the same params)',
    ),
    section('Params', diff.params, '(no param changed)'),
    section(
      `Metrics${diff.unchanged.length > 0 ? ` (${diff.unchanged.length} more with the same cache entry on both sides, so the same numbers: ${diff.unchanged.join(', ')}; --all lists them)` : ''}`,
      diff.metrics,
      diff.unchanged.length > 0 ? '(no other result instance)' : '(no evaluate or one-pixel-search instance; pick rows with --stage)',
    ),
  ];
  if (diff.notRun.length > 0) {
    parts.push(
      [
        'Not run: these commands would run them (cached upstream instances are reused):',
        ...diff.notRun.map(({ side, ids }) => `  ${side}: ${runCommandFor(side === 'A' ? diff.a : diff.b, ids)}`),
      ].join('\n'),
    );
  }
  return parts.join('\n\n');
}

function diffJson(diff: PipelineDiff): unknown {
  const side = (e: Experiment) => ({ label: e.label, origin: e.origin, pipeline: e.pipeline, file: e.file, git: e.git ?? null });
  return {
    a: side(diff.a),
    b: side(diff.b),
    instances: rowObjects(diff.instances),
    params: rowObjects(diff.params),
    metrics: rowObjects(diff.metrics),
    unchanged: diff.unchanged,
    notRun: diff.notRun.map(({ side: s, ids }) => ({ side: s, ids, command: runCommandFor(s === 'A' ? diff.a : diff.b, ids) })),
  };
}
