import { readRuns } from '../executor/run-history.js';
import { flag, parseCommandArgs, workspaceOptions } from './args.js';
import type { Command } from './command.js';
import { EXIT_OK, UsageError, type CliIo } from './io.js';
import { formatDuration, formatTable } from './table.js';
import { workspaceToRead } from './workspace-arg.js';

const USAGE = `Usage: bdlab runs [options]

Lists the runs recorded in the workspace's runs/ directory, oldest first: id, status, instance
counts and duration. A run killed without a chance to finish shows as "running" or "killed?".

Options:
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list recorded runs',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs('runs', argv, workspaceOptions);
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError(`runs: unexpected argument ${positionals[0]}`);
    const ws = await workspaceToRead(io, values, 'runs');
    const runs = await readRuns(ws.runsDir);
    if (runs.length === 0) {
      io.out(`no runs in ${ws.runsDir}`);
      return EXIT_OK;
    }
    const rows = runs.map((run) => {
      const m = run.manifest;
      if (!m) return [run.id, 'unknown', '-', '-'];
      const c = m.counts;
      const counts = [`${c.succeeded} ran`, `${c.cached} cached`, ...(c.failed ? [`${c.failed} failed`] : []), ...(c.skipped ? [`${c.skipped} skipped`] : [])].join(', ');
      const status = m.status === 'running' ? 'running/killed?' : m.status;
      return [run.id, status, counts, formatDuration(m.durationMs)];
    });
    io.out(formatTable(['run', 'status', 'instances', 'duration'], rows));
    return EXIT_OK;
  },
};
