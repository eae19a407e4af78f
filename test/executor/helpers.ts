import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execaNode } from 'execa';
import type { RunEvent } from '../../src/executor/events.js';
import type { Manifest } from '../../src/executor/manifest.js';
import { RunEvents } from '../../src/executor/events.js';
import { LocalExecutor } from '../../src/executor/executors/local.js';
import { openPipeline } from '../../src/executor/open-pipeline.js';
import { runPipeline, type RunOutcome } from '../../src/executor/run-pipeline.js';

/** The compiled CLI next to this compiled test (works from dist/ or dist-<area>/). */
export const CLI = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

export interface TempWorkspace {
  dir: string;
  write(name: string, text: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function tempWorkspace(prefix = 'bdlab-exec-'): Promise<TempWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return {
    dir,
    async write(name, text) {
      const file = join(dir, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
      return file;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const r = await execaNode(CLI, args, { cwd, reject: false, env: { ...env, BDLAB_DATA_PATH: '', BDLAB_BACKEND: '' }, stdin: 'ignore' });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Starts the CLI (in runCli's environment) without waiting for it; waitFor resolves once its stdout matches. */
export function startCli(args: string[], cwd: string, env: Record<string, string> = {}) {
  const proc = execaNode(CLI, args, { cwd, reject: false, stdin: 'ignore', env: { ...env, BDLAB_DATA_PATH: '', BDLAB_BACKEND: '' } });
  let out = '';
  proc.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return {
    proc,
    output: () => out,
    waitFor: async (re: RegExp): Promise<void> => {
      while (!re.test(out)) {
        if (proc.exitCode !== null) throw new Error(`CLI exited before ${re}; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The manifests of the workspace's recorded runs, oldest first. */
export async function runManifests(dir: string): Promise<Manifest[]> {
  const runs = (await readdir(join(dir, 'runs'))).filter((r) => /^\d{8}T/.test(r)).sort();
  return Promise.all(runs.map(async (r) => JSON.parse(await readFile(join(dir, 'runs', r, 'manifest.json'), 'utf8')) as Manifest));
}

export interface InProcessRun {
  outcome: RunOutcome;
  events: RunEvent[];
  of<T extends RunEvent['type']>(type: T): Extract<RunEvent, { type: T }>[];
}

/** Runs a pipeline in this process (stages still run in child processes) and records the events. */
export async function runInProcess(
  file: string,
  workspace: string,
  options: { only?: string[]; force?: string[]; failFast?: boolean; jobs?: number; signal?: AbortSignal } = {},
): Promise<InProcessRun> {
  const opened = await openPipeline({
    file,
    workspace,
    cwd: workspace,
    env: {},
    dataPath: [],
    only: options.only ?? [],
    force: options.force ?? [],
  });
  if (!opened.ok) throw new Error(`pipeline did not open: ${JSON.stringify(opened.error)}`);
  const bus = new RunEvents();
  const events: RunEvent[] = [];
  bus.on((e) => events.push(e));
  const outcome = await runPipeline({
    opened: opened.value,
    jobs: options.jobs ?? 1,
    failFast: options.failFast ?? false,
    only: options.only ?? [],
    force: options.force ?? [],
    signal: options.signal ?? new AbortController().signal,
    events: bus,
    executor: new LocalExecutor({ cwd: workspace, killGraceMs: 500 }),
  });
  return {
    outcome,
    events,
    of: <T extends RunEvent['type']>(type: T) => events.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type),
  };
}

export function ids(list: { id: string }[]): string[] {
  return list.map((e) => e.id).sort();
}

/** The CLI in this process (same code path as bin.js minus process startup): cheaper for read-only commands. */
export async function runMain(args: string[], cwd: string): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    out: (t) => void (stdout += t.endsWith('\n') ? t : t + '\n'),
    err: (t) => void (stderr += t.endsWith('\n') ? t : t + '\n'),
    cwd,
    env: {},
    isTTY: false,
  });
  return { code, stdout, stderr };
}
