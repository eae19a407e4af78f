import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { toolVersion } from '../common/paths.js';
import { autoThreads } from '../common/threads.js';
import type { CacheKey } from './fingerprint.js';
import { ENTRY_LOG } from './cache.js';
import { emptyCounts, type RunEvent, type RunEvents, type RunStatus } from './events.js';
import { sweepLeftovers } from './gc.js';
import { gitInfoOf } from './git-info.js';
import { LiveRun } from './live-runs.js';
import { ManifestWriter, countStatuses, type InstanceRecord, type Manifest } from './manifest.js';
import type { OpenPipeline } from './open-pipeline.js';
import { createRunDirectory, linkOutputs, pointLatest, stageDirOf, writePlanFile, writeStageMetrics, type RunDirectory } from './run-dir.js';
import type { Executor } from './executors/executor.js';
import { executePlan, type InstanceOutcome } from './scheduler.js';

export interface RunRequest {
  opened: OpenPipeline;
  jobs: number;
  /** Threads per stage (resolveThreads); default 'auto': the available cores divided by jobs. */
  threads?: number;
  /** Threads of an instance given its resources.cpus; default: `threads` for every instance. */
  threadsFor?: (cpus: number | undefined) => number;
  failFast: boolean;
  /** As given on the command line; recorded in the manifest. */
  only: string[];
  force: string[];
  signal: AbortSignal;
  events: RunEvents;
  /** Starts the instances (see executors/); preflight() has passed. */
  executor: Executor;
}

export interface RunOutcome {
  status: Exclude<RunStatus, 'running'>;
  run: RunDirectory;
  outcomes: Map<string, InstanceOutcome>;
}

/**
 * One `bdlab run` from a validated plan to a finished run directory: creates the directory,
 * records the manifest from events, schedules the instances, links outputs and metrics into
 * `stages/<id>/`, and points `runs/latest` at it.
 */
export async function runPipeline(req: RunRequest): Promise<RunOutcome> {
  // Registered before anything is created, so a concurrent gc leaves this run's files alone.
  const live = await LiveRun.start(req.opened.workspace.cacheDir, req.opened.locks);
  try {
    return await runRegistered(req, live);
  } finally {
    await live.end();
  }
}

async function runRegistered(req: RunRequest, live: LiveRun): Promise<RunOutcome> {
  const { plan, workspace, cache, selection } = req.opened;
  // What killed runs left behind (temp dirs, half-copied entries, dead locks) goes first.
  await sweepLeftovers(workspace, req.opened.locks).catch(() => undefined);
  const threads = req.threads ?? autoThreads(availableParallelism(), req.jobs);
  const startedAt = new Date();
  const run = await createRunDirectory(workspace.runsDir, plan, startedAt, (dir) => live.runDir(dir));
  await writePlanFile(run, plan, new Map());
  await pointLatest(workspace.runsDir, run);

  const instances: Record<string, InstanceRecord> = {};
  for (const inst of plan.instances) if (selection.selected.has(inst.id)) instances[inst.id] = { status: 'pending', cacheKey: null, durationMs: null };
  const manifest: Manifest = {
    runId: run.id,
    tool: { name: 'bdlab', version: toolVersion() },
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    pipeline: { name: plan.name, file: plan.file, git: null },
    workspace: workspace.root,
    cacheDir: workspace.cacheDir,
    options: { executor: req.executor.name, jobs: req.jobs, threads, only: req.only, force: req.force, failFast: req.failFast, backend: req.opened.backend, dataPath: req.opened.dataPath },
    startedAt: startedAt.toISOString(),
    endedAt: null,
    durationMs: null,
    status: 'running',
    backends: [],
    counts: countStatuses(instances),
    instances,
  };
  const writer = new ManifestWriter(run.dir, manifest);
  // Two git processes cost more than a whole cached run; they run alongside the stages.
  const git = gitInfoOf(plan.file).then((info) => {
    manifest.pipeline.git = info;
  });
  const recorder = new StageDirRecorder(run, (key) => join(cache.entryDir(key), 'outputs'), (key) => join(cache.entryDir(key), ENTRY_LOG));
  const stopWriter = req.events.on(writer.listener, { first: true });
  const stopRecorder = req.events.on(recorder.listener);
  await writer.flush();

  req.events.emit({ type: 'run-started', runId: run.id, runDir: run.dir, plan, total: Object.keys(instances).length, startedAt: manifest.startedAt, instances: Object.keys(instances) });
  const result = await executePlan({
    plan,
    versions: req.opened.versions,
    cache,
    locks: req.opened.locks,
    claimKey: (key) => live.claim(key),
    scratchRoot: workspace.scratchDir,
    executor: req.executor,
    selected: selection.selected,
    forced: selection.forced,
    jobs: req.jobs,
    threadsFor: req.threadsFor ?? (() => threads),
    failFast: req.failFast,
    signal: req.signal,
    dataPath: req.opened.dataPath,
    backend: req.opened.backend,
    logFileOf: (id) => recorder.logFileOf(id),
    events: req.events,
  });
  await recorder.settled();
  await git;
  const keys = new Map<string, string>();
  for (const [id, o] of result.outcomes) if (o.cacheKey) keys.set(id, o.cacheKey);
  await writePlanFile(run, plan, keys);
  await req.opened.memo.save().catch(() => undefined);

  const counts = emptyCounts();
  for (const o of result.outcomes.values()) if (o.status in counts) counts[o.status as keyof typeof counts] += 1;
  const endedAt = new Date();
  req.events.emit({ type: 'run-finished', status: result.status, counts, durationMs: endedAt.getTime() - startedAt.getTime(), endedAt: endedAt.toISOString() });
  await writer.flush();
  stopWriter();
  stopRecorder();
  return { status: result.status, run, outcomes: result.outcomes };
}

/** Fills `stages/<id>/` as instances finish; work is chained so the run can wait for it. */
class StageDirRecorder {
  private chain: Promise<void> = Promise.resolve();
  private readonly made = new Set<string>();

  constructor(
    private readonly run: RunDirectory,
    private readonly outputsOf: (key: CacheKey) => string,
    private readonly entryLogOf: (key: CacheKey) => string,
  ) {}

  async logFileOf(id: string): Promise<string> {
    return join(await this.dir(id), 'log.txt');
  }

  readonly listener = (event: RunEvent): void => {
    if (event.type === 'cache-hit') {
      const { id, cacheKey, metrics } = event;
      this.enqueue(async () => {
        const dir = await this.dir(id);
        const original = await readFile(this.entryLogOf(cacheKey), 'utf8').catch(() => '');
        await writeFile(join(dir, 'log.txt'), `[bdlab] cached: outputs from cache entry ${cacheKey}; original log follows\n${original}`);
        await linkOutputs(dir, this.outputsOf(cacheKey));
        if (metrics) await writeStageMetrics(dir, metrics);
      });
    } else if (event.type === 'succeeded') {
      const { id, cacheKey, metrics } = event;
      this.enqueue(async () => {
        const dir = await this.dir(id);
        await linkOutputs(dir, this.outputsOf(cacheKey));
        if (metrics) await writeStageMetrics(dir, metrics);
      });
    } else if (event.type === 'failed' || event.type === 'skipped') {
      const id = event.id;
      const text = event.type === 'failed' ? `[bdlab] failed: ${event.error}\n${event.detail ? event.detail + '\n' : ''}` : `[bdlab] skipped: ${event.reason}\n`;
      this.enqueue(async () => appendFile(join(await this.dir(id), 'log.txt'), text));
    }
  };

  settled(): Promise<void> {
    return this.chain;
  }

  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch(() => undefined);
  }

  private async dir(id: string): Promise<string> {
    const dir = stageDirOf(this.run, id);
    if (!this.made.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.made.add(dir);
    }
    return dir;
  }
}
