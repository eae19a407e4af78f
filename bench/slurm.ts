/**
 * The Slurm executor's cost, on whatever cluster `sbatch` reaches (scripts/slurm-local.sh start
 * gives a single-node one):
 * 1. scheduling overhead per instance: no-op instances one at a time, split into submit (sbatch
 *    answered), start seen (the poll that found the job running) and result seen by the head,
 *    next to the same instances run locally;
 * 2. a 40-instance synthetic sweep (one synthetic fetch, 40 test-files instances of 1 s of work
 *    each, one fan-in) under Slurm and locally, both with --jobs 2.
 *   node dist/bench/slurm.js
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunEvents, type RunEvent } from '../src/executor/events.js';
import { createExecutor } from '../src/executor/executors/index.js';
import { openPipeline } from '../src/executor/open-pipeline.js';
import { runPipeline } from '../src/executor/run-pipeline.js';
import type { ExecutorName } from '../src/pipeline/executor-settings.js';

const NOOPS = 10;
const SWEEP = 40;
const POLL_INTERVALS = [0.5, 2];

interface Timed {
  ms: number;
  events: { at: number; event: RunEvent }[];
}

async function run(text: string, executor: ExecutorName, jobs: number): Promise<Timed> {
  const dir = await mkdtemp(join(tmpdir(), `bdlab-bench-${executor}-`));
  try {
    const file = join(dir, 'p.yaml');
    await writeFile(file, text);
    const opened = await openPipeline({ file, workspace: dir, cwd: dir, env: {}, dataPath: [], only: [], force: [] });
    if (!opened.ok) throw new Error(`bench pipeline invalid: ${JSON.stringify(opened.error).slice(0, 500)}`);
    const bus = new RunEvents();
    const events: Timed['events'] = [];
    bus.on((event) => events.push({ at: performance.now(), event }));
    const ex = createExecutor({ name: executor, cwd: dir, slurm: opened.value.slurm, onWarning: (m) => console.log(`warning: ${m}`) });
    const pre = await ex.preflight();
    if (!pre.ok) throw new Error(pre.message);
    const t0 = performance.now();
    const outcome = await runPipeline({ opened: opened.value, jobs, failFast: true, only: [], force: [], signal: new AbortController().signal, events: bus, executor: ex });
    const ms = performance.now() - t0;
    await ex.close();
    if (outcome.status !== 'succeeded') throw new Error(`bench run ${outcome.status}`);
    return { ms, events };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function noopPipeline(poll: number): string {
  const lines = ['name: bench-noop', `settings: { slurm: { poll_interval: ${poll} } }`, 'stages:'];
  for (let i = 0; i < NOOPS; i++) lines.push(`  n${i}: { kind: test-files, params: { write: { n.txt: "${i}" } } }`);
  return lines.join('\n') + '\n';
}

function sweepPipeline(): string {
  const values = Array.from({ length: SWEEP }, (_, i) => i).join(', ');
  return `name: bench-sweep
settings: { slurm: { poll_interval: 0.5 } }
stages:
  data: { kind: fetch, params: { dataset: synthetic, synthetic: { train: 50, test: 10 } } }
  point:
    kind: test-files
    needs: [data]
    matrix: { i: [${values}] }
    params: { sleep_ms: 1000, copy_inputs: false, write: { i.txt: "point \${{ matrix.i }}" }, metrics: { i: "\${{ matrix.i }}" } }
  all: { kind: test-files, needs: [{ stage: point, fan_in: true }], params: { copy_inputs: false } }
`;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const ms = (x: number): string => `${x.toFixed(0)} ms`;

/** Per instance, means: started -> result seen by the head, split at the moment sbatch answered (slurm only). */
function phases(t: Timed): { total: number; submit: number; afterSubmit: number } {
  const byId = new Map<string, { started?: number; submitted?: number; done?: number }>();
  for (const { at, event } of t.events) {
    if (!('id' in event)) continue;
    const rec = byId.get(event.id) ?? {};
    byId.set(event.id, rec);
    if (event.type === 'instance-started') rec.started = at;
    else if (event.type === 'job' && rec.submitted === undefined) rec.submitted = at;
    else if (event.type === 'succeeded') rec.done = at;
  }
  const recs = [...byId.values()].filter((r) => r.started !== undefined && r.done !== undefined);
  const submitted = recs.filter((r) => r.submitted !== undefined);
  return {
    total: mean(recs.map((r) => r.done! - r.started!)),
    submit: mean(submitted.map((r) => r.submitted! - r.started!)),
    afterSubmit: mean(submitted.map((r) => r.done! - r.submitted!)),
  };
}

export async function main(): Promise<void> {
  const probe = createExecutor({ name: 'slurm', cwd: tmpdir(), slurm: {}, onWarning: () => undefined });
  const pre = await probe.preflight();
  if (!pre.ok) {
    console.log(`skipped: ${pre.message}`);
    return;
  }
  const local = phases(await run(noopPipeline(0.5), 'local', 1));
  console.log(`no-op instance, one at a time, local: ${ms(local.total)} from start to result (a Node child process)`);
  for (const poll of POLL_INTERVALS) {
    const p = phases(await run(noopPipeline(poll), 'slurm', 1));
    console.log(
      `no-op instance, one at a time, slurm (poll_interval ${poll} s): ${ms(p.total)} from start to result seen by the head ` +
        `(+${ms(p.total - local.total)} over local): writing the job script and sbatch ${ms(p.submit)}, then queue, run and polls until the head saw the result ${ms(p.afterSubmit)}`,
    );
  }
  const sweepLocal = await run(sweepPipeline(), 'local', 2);
  const sweepSlurm = await run(sweepPipeline(), 'slurm', 2);
  console.log(`${SWEEP}-instance synthetic sweep (+ fetch and fan-in), --jobs 2: local ${(sweepLocal.ms / 1000).toFixed(1)} s, slurm ${(sweepSlurm.ms / 1000).toFixed(1)} s (${((sweepSlurm.ms / sweepLocal.ms - 1) * 100).toFixed(0)} % more)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
