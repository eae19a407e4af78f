import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { compareReportHtml } from '../report/compare-report.js';
import { overlayRuns } from '../report/run-overlay.js';
import { flag, optionalString, parseCommandArgs, workspaceOptions } from './args.js';
import type { Command } from './command.js';
import { experimentsFromArgs } from './compare.js';
import { EXIT_INVALID, EXIT_OK, UsageError, type CliIo } from './io.js';

const USAGE = `Usage: bdlab report RUN... [--pipeline NAME]... -o FILE.html [options]

Writes one self-contained HTML page (inline SVG, no scripts, no external files) for several runs:
the runs, the compare table (as "bdlab compare" prints it), a figure with the runs side by side,
and the figures of a single run's report with each run as a series (run = colour in curves and
sweeps, part of the label in bars). RUN is a run id, a unique part of one, or "latest".

Options:
  -o, --output FILE   the page to write (required)
  --pipeline NAME     add every run of pipeline NAME (oldest first); repeatable
  --title TEXT        page title (default: "bdlab report: " and the runs' pipelines)
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

export const reportCommand: Command = {
  name: 'report',
  summary: 'one HTML page overlaying several runs: figures and the compare table',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs('report', argv, {
      ...workspaceOptions,
      output: { type: 'string', short: 'o' },
      pipeline: { type: 'string', multiple: true },
      title: { type: 'string' },
    });
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    const output = optionalString(values, 'output');
    if (output === undefined) throw new UsageError('report: -o FILE.html is required (where to write the page)');
    const experiments = await experimentsFromArgs('report', io, values, positionals);
    const data = await overlayRuns(experiments);
    if (!data.ok) {
      io.err(`bdlab report: ${data.error}`);
      return EXIT_INVALID;
    }
    if (data.value.evaluated.length === 0 && data.value.trained.length === 0) {
      io.err('bdlab report: the runs have no evaluate, one-pixel-search, train or transfer-retrain results to draw (did they finish? "bdlab show RUN" tells)');
      return EXIT_INVALID;
    }
    const pipelines = [...new Set(experiments.map((e) => e.pipeline))].join(', ');
    const html = await compareReportHtml(experiments, data.value, optionalString(values, 'title') ?? `bdlab report: ${pipelines} (${experiments.length} runs)`);
    const file = resolve(io.cwd, output);
    await mkdir(dirname(file), { recursive: true });
    // Written beside the target and renamed: a reader never sees half a page.
    const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, html);
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
    io.out(`bdlab report: wrote ${relative(io.cwd, file) || file} (${experiments.length} runs: ${data.value.runs.join(', ')}; ${data.value.evaluated.length} evaluated and ${data.value.trained.length} trained instances)`);
    return EXIT_OK;
  },
};
