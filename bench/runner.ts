/**
 * The runner's own overhead: a 100-stage pipeline of test-files stages is run once to fill the
 * cache, then rerun fully cached; the rerun time is what bdlab itself costs per invocation
 * (plan, key computation, content verification, run directory, manifest), no child processes.
 *   node dist/bench/runner.js
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunEvents } from '../src/executor/events.js';
import { LocalExecutor } from '../src/executor/executors/local.js';
import { openPipeline } from '../src/executor/open-pipeline.js';
import { runPipeline } from '../src/executor/run-pipeline.js';

const STAGES = 100;

function pipelineText(): string {
  const lines = ['name: bench-runner', 'stages:'];
  for (let i = 0; i < STAGES; i++) {
    // A chain with a few fan-ins, so keys depend on upstream content like real pipelines do.
    const needs = i === 0 ? '' : i % 10 === 0 ? `, needs: [s${i - 1}, s${i - 10}]` : `, needs: [s${i - 1}]`;
    lines.push(`  s${i}: { kind: test-files${needs}, params: { write: { "out.txt": "stage ${i}" }, copy_inputs: false } }`);
  }
  return lines.join('\n') + '\n';
}

async function runOnce(file: string, workspace: string, jobs: number): Promise<{ ms: number; cached: number; ran: number }> {
  const t0 = performance.now();
  const opened = await openPipeline({ file, workspace, cwd: workspace, env: {}, dataPath: [], only: [], force: [] });
  if (!opened.ok) throw new Error(`bench pipeline invalid: ${JSON.stringify(opened.error)}`);
  const events = new RunEvents();
  let cached = 0;
  let ran = 0;
  events.on((e) => {
    if (e.type === 'cache-hit') cached += 1;
    if (e.type === 'succeeded') ran += 1;
  });
  const outcome = await runPipeline({ opened: opened.value, jobs, failFast: true, only: [], force: [], signal: new AbortController().signal, events, executor: new LocalExecutor({ cwd: workspace }) });
  if (outcome.status !== 'succeeded') throw new Error(`bench run ${outcome.status}`);
  return { ms: performance.now() - t0, cached, ran };
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bdlab-bench-runner-'));
  try {
    const file = join(dir, 'bench.yaml');
    await writeFile(file, pipelineText());
    const fill = await runOnce(file, dir, 2);
    console.log(`first run of ${STAGES} stages (${fill.ran} child processes, --jobs 2): ${(fill.ms / 1000).toFixed(1)} s`);
    const rerun = await runOnce(file, dir, 1);
    if (rerun.cached !== STAGES) throw new Error(`expected ${STAGES} cache hits, got ${rerun.cached}`);
    console.log(`cached rerun of ${STAGES} stages: ${(rerun.ms / 1000).toFixed(2)} s (${(rerun.ms / STAGES).toFixed(1)} ms per stage)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
