import { collectGarbage } from '../executor/gc.js';
import { shortKey, type CacheKey } from '../executor/fingerprint.js';
import { workspaceAt, workspaceProblem } from '../executor/workspace.js';
import { absolutePath, flag, optionalString, parseCommandArgs, positiveInt, workspaceOptions } from './args.js';
import type { Command } from './command.js';
import { EXIT_OK, UsageError, type CliIo } from './io.js';
import { formatBytes } from './table.js';

const USAGE = `Usage: bdlab gc [--dry-run] [--keep N] [options]

Frees disk space: deletes cache entries that no kept run refers to (through its plan.json or
manifest.json), and temp directories left by killed processes. With --keep N, only the newest N
runs are kept and the older run directories are deleted too. Prints what it removes and the bytes freed.
A run that is still running keeps its directory and every cache entry it uses, and a Slurm job that
is still queued or running keeps the pending directory it writes into, even when the run that
submitted it was killed (also before it recorded the job id: the job is then found by its name);
gc says what it skipped.

Options:
  --dry-run           only report what would be removed
  --keep N            keep the newest N runs (default: all runs)
  --cache-dir DIR     cache to clean (default: $BDLAB_CACHE_DIR, then .bdlab/cache of the workspace)
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

export const gcCommand: Command = {
  name: 'gc',
  summary: 'delete cache entries no kept run refers to',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs('gc', argv, { ...workspaceOptions, 'dry-run': { type: 'boolean' }, keep: { type: 'string' } });
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError(`gc: unexpected argument ${positionals[0]}`);
    const keep = optionalString(values, 'keep') === undefined ? undefined : positiveInt(values, 'keep', 0, 0);
    const cliCache = absolutePath(io.cwd, optionalString(values, 'cache-dir'));
    const envCache = io.env['BDLAB_CACHE_DIR']?.trim() ? absolutePath(io.cwd, io.env['BDLAB_CACHE_DIR'].trim()) : undefined;
    const ws = workspaceAt(absolutePath(io.cwd, optionalString(values, 'workspace')) ?? io.cwd, cliCache ?? envCache);
    const problem = await workspaceProblem(ws, {
      root: optionalString(values, 'workspace') !== undefined ? '--workspace' : 'the workspace',
      cacheDir: cliCache ? '--cache-dir' : envCache ? 'BDLAB_CACHE_DIR' : 'the cache directory',
    });
    if (problem) throw new UsageError(`gc: ${problem}`);
    const dryRun = flag(values, 'dry-run');
    const report = await collectGarbage(ws, { dryRun, env: io.env, ...(keep !== undefined ? { keep } : {}) });
    const verb = dryRun ? 'would remove' : 'removed';
    const skipped = report.skippedRuns.length + report.skippedEntries.length + report.skippedTmp.length;
    for (const run of report.removedRuns) io.out(`${verb} run ${run}`);
    for (const e of report.removedEntries) io.out(`${verb} cache entry ${shortKey(e.key)} (${formatBytes(e.bytes)})`);
    for (const t of report.removedTmp) io.out(`${verb} temp dir ${t}`);
    for (const r of report.skippedRuns) io.out(`skipped run ${r.what}: ${r.because}`);
    for (const e of report.skippedEntries) io.out(`skipped cache entry ${shortKey(e.what as CacheKey)}: ${e.because}`);
    for (const t of report.skippedTmp) io.out(`skipped temp dir ${t.what}: ${t.because}`);
    io.out(
      `gc: ${verb} ${report.removedEntries.length} cache entr${report.removedEntries.length === 1 ? 'y' : 'ies'}, ${report.removedRuns.length} run(s), ${report.removedTmp.length} temp dir(s); ` +
        `kept ${report.keptEntries} entr${report.keptEntries === 1 ? 'y' : 'ies'} of ${report.keptRuns.length} run(s); ${dryRun ? 'would free' : 'freed'} ${report.freedBytes} bytes (${formatBytes(report.freedBytes)})` +
        (skipped > 0
          ? `; skipped ${report.skippedRuns.length} run(s), ${report.skippedEntries.length} cache entr${report.skippedEntries.length === 1 ? 'y' : 'ies'} and ${report.skippedTmp.length} temp dir(s) in use by running runs or Slurm jobs`
          : ''),
    );
    return EXIT_OK;
  },
};
