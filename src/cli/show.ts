import type { JsonValue } from '../common/json.js';
import { ENTRY_FILE, type CacheEntryMeta } from '../executor/cache.js';
import { shortKey } from '../executor/fingerprint.js';
import { readJsonFile } from '../executor/json-file.js';
import type { InstanceRecord } from '../executor/manifest.js';
import { resolveRunRef } from '../executor/run-dir.js';
import { readRun } from '../executor/run-history.js';
import { flag, parseCommandArgs, workspaceOptions } from './args.js';
import type { Command } from './command.js';
import { EXIT_INVALID, EXIT_OK, UsageError, type CliIo } from './io.js';
import { formatDuration, formatTable } from './table.js';
import { workspaceToRead } from './workspace-arg.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sanitizeInstanceId } from '../pipeline/index.js';
import type { InstanceId } from '../pipeline/types.js';

const USAGE = `Usage: bdlab show RUN|latest [options]

Shows one run: summary (pipeline, status, times, tool and backend versions, git commit), a table
of its instances (status, duration, cache key, error) and a table of their numeric metrics
(nested metrics flattened to dotted names). RUN is a run id from "bdlab runs" or a unique part of one.

Options:
  --workspace DIR     workspace root (default: current directory)
  -h, --help          show this help`;

export const showCommand: Command = {
  name: 'show',
  summary: 'show one run: instances and metrics',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs('show', argv, workspaceOptions);
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError('show: expected one RUN id (or "latest")');
    const ws = await workspaceToRead(io, values, 'show');
    const id = await resolveRunRef(ws.runsDir, positionals[0]!);
    if (!id) {
      io.err(`bdlab show: no run "${positionals[0]}" in ${ws.runsDir} (or it matches several); "bdlab runs" lists them`);
      return EXIT_INVALID;
    }
    const run = await readRun(ws.runsDir, id);
    const m = run.manifest;
    if (!m) {
      io.err(`bdlab show: ${run.dir} has no readable manifest.json`);
      return EXIT_INVALID;
    }
    io.out(`run       ${m.runId}`);
    io.out(`pipeline  ${m.pipeline.name} (${m.pipeline.file})${m.pipeline.git ? ` at git ${m.pipeline.git.commit.slice(0, 12)}${m.pipeline.git.dirty ? ' (modified)' : ''}` : ''}`);
    io.out(`status    ${m.status}${m.status === 'running' ? ' (or killed)' : ''}`);
    io.out(`started   ${m.startedAt}   duration ${formatDuration(m.durationMs)}`);
    io.out(`tool      bdlab ${m.tool.version}, node ${m.node}, ${m.platform}`);
    if (m.backends.length) io.out(`backend   ${m.backends.map((b) => `${b.name} ${Object.entries(b.versions).map(([k, v]) => `${k}@${v}`).join(' ')} (${b.instances})`).join('; ')}`);
    io.out(`directory ${run.dir}`);
    io.out('');
    const entries = Object.entries(m.instances);
    const durations = await Promise.all(entries.map(([, rec]) => durationOf(rec, m.cacheDir)));
    io.out(
      formatTable(
        ['instance', 'status', 'duration', 'key', 'note'],
        entries.map(([iid, rec], i) => [iid, rec.status, durations[i]!, rec.cacheKey ? shortKey(rec.cacheKey) : '-', rec.error ?? '']),
      ),
    );

    const metricRows: { id: string; values: Map<string, number> }[] = [];
    for (const [iid] of entries) {
      const file = join(run.dir, 'stages', sanitizeInstanceId(iid as InstanceId), 'metrics.json');
      const raw = await readFile(file, 'utf8').catch(() => undefined);
      if (!raw) continue;
      const values = new Map<string, number>();
      flattenNumbers(JSON.parse(raw) as JsonValue, '', values);
      if (values.size) metricRows.push({ id: iid, values });
    }
    // One table per metric shape (in practice: per stage kind), so columns stay few and meaningful.
    const groups = new Map<string, typeof metricRows>();
    for (const row of metricRows) {
      const shape = [...row.values.keys()].join('\u0000');
      groups.set(shape, [...(groups.get(shape) ?? []), row]);
    }
    for (const rows of groups.values()) {
      const columns = [...rows[0]!.values.keys()];
      io.out('');
      io.out(formatTable(['instance', ...columns], rows.map((r) => [r.id, ...columns.map((c) => formatNumber(r.values.get(c)))])));
    }
    return EXIT_OK;
  },
};

/**
 * A cache hit takes no time in the run that reused it; what a reader wants is what the result cost
 * to build, which its cache entry recorded: `12.5 s (cached)`.
 */
async function durationOf(rec: InstanceRecord, cacheDir: string): Promise<string> {
  if (rec.status !== 'cached' || !rec.cacheKey) return formatDuration(rec.durationMs);
  const meta = await readJsonFile<CacheEntryMeta>(join(cacheDir, rec.cacheKey.slice(0, 2), rec.cacheKey, ENTRY_FILE));
  return meta?.durationMs !== undefined ? `${formatDuration(meta.durationMs)} (cached)` : 'cached';
}

/** Numeric leaves of nested objects as dotted names; arrays (matrices, histograms) are left out. */
function flattenNumbers(value: JsonValue, prefix: string, out: Map<string, number>): void {
  if (typeof value === 'number') out.set(prefix, value);
  else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenNumbers(v, prefix ? `${prefix}.${k}` : k, out);
  }
}

function formatNumber(v: number | undefined): string {
  if (v === undefined) return '-';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toExponential(3) : v.toFixed(4);
}
