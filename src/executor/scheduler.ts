import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../common/json.js';
import type { Plan, PlannedInstance } from '../pipeline/types.js';
import type { StageInput } from '../common/stage-contract.js';
import type { CacheStore } from './cache.js';
import type { BackendInfo, InstanceStatus, JobUpdate, RunEvents, RunStatus } from './events.js';
import type { Executor } from './executors/executor.js';
import { cacheKeyOf, fingerprintRecord, type CacheKey, type ContentHash } from './fingerprint.js';
import type { LockManager } from './lock.js';

export interface InstanceOutcome {
  status: InstanceStatus;
  cacheKey?: CacheKey;
  contentHash?: ContentHash;
  outputsDir?: string;
  durationMs?: number;
  metrics?: JsonObject;
  backend?: BackendInfo;
  error?: string;
  job?: JobUpdate;
}

export interface SchedulerOptions {
  plan: Plan;
  /** Stage kind -> implementation version (x-bdlab-version). */
  versions: ReadonlyMap<string, string>;
  cache: CacheStore;
  locks: LockManager;
  /** Called with every cache key before it is looked up or built (registers it against gc). */
  claimKey?(key: CacheKey): void;
  /** `<workspace>/.bdlab/scratch`. */
  scratchRoot: string;
  /** Starts, follows and stops one instance (a local child process, a Slurm job). */
  executor: Executor;
  /** Instances to run; must contain every input of every member (see selection.ts). */
  selected: ReadonlySet<string>;
  /** Instances to rebuild even when cached. */
  forced: ReadonlySet<string>;
  /** Slots: instances at once locally (an instance takes `resources.cpus` of them), jobs in the queue on Slurm. */
  jobs: number;
  /** Threads an instance's kernels use given its resources.cpus (resolveThreads); never part of a cache key. */
  threadsFor(cpus: number | undefined): number;
  failFast: boolean;
  signal: AbortSignal;
  dataPath: string[];
  backend: string;
  /** Where the instance's log.txt goes (created by the caller's run directory). */
  logFileOf(id: string): Promise<string>;
  events: RunEvents;
}

export interface ScheduleResult {
  status: Exclude<RunStatus, 'running'>;
  outcomes: Map<string, InstanceOutcome>;
}

/**
 * Runs the selected instances in dependency order using at most `jobs` slots at a time (an instance
 * takes `executor.slotsOf(resources)`, capped at `jobs` so that it can run at all). A failure skips
 * the failed instance's transitive dependents and lets independent branches go on (or, with
 * failFast, stops everything). Cache hits never start a process.
 */
export async function executePlan(opts: SchedulerOptions): Promise<ScheduleResult> {
  const instances = opts.plan.instances.filter((i) => opts.selected.has(i.id));
  const index = new Map(instances.map((inst, i) => [inst.id as string, i]));
  const byId = new Map(instances.map((inst) => [inst.id as string, inst]));
  const dependents = new Map<string, string[]>(instances.map((inst) => [inst.id as string, []]));
  const waitingFor = new Map<string, number>();
  for (const inst of instances) {
    const unique = new Set<string>(inst.inputs);
    for (const input of unique) {
      if (!byId.has(input)) throw new Error(`selection is missing ${input}, an input of ${inst.id}`);
      dependents.get(input)!.push(inst.id);
    }
    waitingFor.set(inst.id, unique.size);
  }
  for (const list of dependents.values()) list.sort((a, b) => index.get(a)! - index.get(b)!);

  const outcomes = new Map<string, InstanceOutcome>(instances.map((inst) => [inst.id as string, { status: 'pending' }]));
  const ready: number[] = instances.filter((inst) => waitingFor.get(inst.id) === 0).map((inst) => index.get(inst.id)!);
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort(opts.signal.reason);
  if (opts.signal.aborted) onOuterAbort();
  else opts.signal.addEventListener('abort', onOuterAbort, { once: true });
  let failFastCause: string | undefined;
  let ordinal = 0;
  const running = new Map<string, Promise<void>>();
  let usedSlots = 0;
  const jobs = Math.max(1, opts.jobs);
  const slotsOf = (inst: PlannedInstance): number => Math.min(jobs, Math.max(1, opts.executor.slotsOf(inst.resources ?? {})));

  const skipDependents = (id: string, reason: string): void => {
    const queue = [...(dependents.get(id) ?? [])];
    const seen = new Set<string>();
    const toSkip: string[] = [];
    while (queue.length) {
      const next = queue.shift()!;
      if (seen.has(next)) continue;
      seen.add(next);
      toSkip.push(next);
      queue.push(...(dependents.get(next) ?? []));
    }
    toSkip.sort((a, b) => index.get(a)! - index.get(b)!);
    for (const dep of toSkip) {
      const outcome = outcomes.get(dep)!;
      if (outcome.status !== 'pending') continue;
      outcome.status = 'skipped';
      outcome.error = reason;
      opts.events.emit({ type: 'skipped', id: dep, reason });
    }
  };

  const settle = (id: string, outcome: InstanceOutcome): void => {
    outcomes.set(id, outcome);
    if (outcome.status === 'succeeded' || outcome.status === 'cached') {
      for (const dep of dependents.get(id)!) {
        const left = waitingFor.get(dep)! - 1;
        waitingFor.set(dep, left);
        if (left === 0) ready.push(index.get(dep)!);
      }
    } else if (outcome.status === 'failed') {
      skipDependents(id, `needs ${id}, which failed`);
      if (opts.failFast && !stop.signal.aborted) {
        failFastCause = id;
        stop.abort(new Error(`--fail-fast: ${id} failed`));
      }
    } else if (outcome.status === 'interrupted') {
      skipDependents(id, `needs ${id}, which was interrupted`);
    }
  };

  while (!stop.signal.aborted) {
    ready.sort((a, b) => a - b);
    // In plan order: an instance that doesn't fit waits for slots rather than being overtaken.
    while (ready.length && usedSlots + slotsOf(instances[ready[0]!]!) <= jobs && !stop.signal.aborted) {
      const inst = instances[ready.shift()!]!;
      const id = inst.id as string;
      const slots = slotsOf(inst);
      usedSlots += slots;
      outcomes.get(id)!.status = 'running';
      ordinal += 1;
      const task = runInstance(inst, ordinal, instances.length, outcomes, opts, stop.signal).then(
        (outcome) => settle(id, outcome),
        (err: unknown) => {
          const message = `internal error while running ${id}: ${err instanceof Error ? err.message : String(err)}`;
          opts.events.emit({ type: 'failed', id, durationMs: 0, error: message, userFacing: false });
          settle(id, { status: 'failed', error: message });
        },
      ).finally(() => {
        running.delete(id);
        usedSlots -= slots;
      });
      running.set(id, task);
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  await Promise.all(running.values());
  opts.signal.removeEventListener('abort', onOuterAbort);

  const interrupted = opts.signal.aborted;
  for (const [id, outcome] of outcomes) {
    if (outcome.status !== 'pending') continue;
    const reason = interrupted ? 'run interrupted' : `not started: --fail-fast after ${failFastCause} failed`;
    outcome.status = 'skipped';
    outcome.error = reason;
    opts.events.emit({ type: 'skipped', id, reason });
  }
  const anyFailed = [...outcomes.values()].some((o) => o.status === 'failed');
  return { status: interrupted ? 'interrupted' : anyFailed ? 'failed' : 'succeeded', outcomes };
}

async function runInstance(
  inst: PlannedInstance,
  ordinal: number,
  total: number,
  outcomes: ReadonlyMap<string, InstanceOutcome>,
  opts: SchedulerOptions,
  signal: AbortSignal,
): Promise<InstanceOutcome> {
  const started = Date.now();
  const id = inst.id as string;
  const upstream = inst.inputs.map((input) => ({ inst: input, outcome: outcomes.get(input)! }));
  const version = opts.versions.get(inst.kind);
  if (version === undefined) throw new Error(`unknown stage kind ${inst.kind}`);
  const key = cacheKeyOf(
    fingerprintRecord(
      inst.kind,
      version,
      inst.params,
      upstream.map(({ outcome }) => ({ key: outcome.cacheKey!, contentHash: outcome.contentHash! })),
    ),
  );
  const forced = opts.forced.has(id);
  opts.claimKey?.(key);

  let reportedCorrupt = false;
  const fromCache = async (): Promise<InstanceOutcome | undefined> => {
    const found = await opts.cache.lookup(key);
    if (found.status === 'corrupt') {
      if (!reportedCorrupt) opts.events.emit({ type: 'cache-corrupt', id, cacheKey: key, reason: found.reason });
      reportedCorrupt = true;
      return undefined;
    }
    if (found.status === 'miss') return undefined;
    const { metrics, backend } = found.entry.meta;
    opts.events.emit({ type: 'cache-hit', id, cacheKey: key, ordinal, total, ...(metrics ? { metrics } : {}), ...(backend ? { backend } : {}) });
    return {
      status: 'cached',
      cacheKey: key,
      contentHash: found.entry.meta.contentHash,
      outputsDir: found.entry.outputsDir,
      durationMs: Date.now() - started,
      ...(metrics ? { metrics } : {}),
      ...(backend ? { backend } : {}),
    };
  };

  if (!forced) {
    const hit = await fromCache();
    if (hit) return hit;
  }
  let release;
  try {
    release = await opts.locks.acquire(key, signal, (owner) =>
      opts.events.emit({ type: 'lock-wait', id, cacheKey: key, ...(owner ? { ownerPid: owner.pid } : {}) }),
    );
  } catch (err) {
    if (signal.aborted) {
      opts.events.emit({ type: 'interrupted', id });
      return { status: 'interrupted', cacheKey: key };
    }
    throw err;
  }
  try {
    // Someone else may have built it while we waited for the lock.
    if (!forced) {
      const hit = await fromCache();
      if (hit) return hit;
    }
    return await build(inst, key, ordinal, total, upstream.map((u) => u.outcome), opts, signal, started);
  } finally {
    await release();
  }
}

async function build(
  inst: PlannedInstance,
  key: CacheKey,
  ordinal: number,
  total: number,
  upstream: InstanceOutcome[],
  opts: SchedulerOptions,
  signal: AbortSignal,
  started: number,
): Promise<InstanceOutcome> {
  const id = inst.id as string;
  const byId = instancesById(opts.plan);
  const inputs: StageInput[] = inst.inputs.map((inputId, i) => {
    const up = byId.get(inputId)!;
    return { id: up.id, stage: up.stage, kind: up.kind, matrix: up.matrix, params: up.params, dir: upstream[i]!.outputsDir! };
  });
  const scratchDir = join(opts.scratchRoot, key);
  await mkdir(scratchDir, { recursive: true });
  const pending = await opts.cache.createPending(key);
  const logFile = await opts.logFileOf(id);
  let backend: BackendInfo | undefined;
  let job: JobUpdate | undefined;
  const threads = opts.threadsFor(inst.resources?.cpus);
  opts.events.emit({ type: 'instance-started', id, cacheKey: key, ordinal, total, threads });
  try {
    const end = await opts.executor.run({
      id,
      cacheKey: key,
      start: {
        type: 'start',
        id,
        kind: inst.kind,
        params: inst.params,
        inputs,
        outDir: pending.outputsDir,
        scratchDir,
        dataPath: opts.dataPath,
        backend: opts.backend,
        ...(inst.resources?.cpus !== undefined ? { cpus: inst.resources.cpus } : {}),
      },
      pending,
      resources: inst.resources ?? {},
      threads,
      logFile,
      signal,
      onProgress: (progress) => opts.events.emit({ type: 'progress', id, progress }),
      onLog: (line, stream) => opts.events.emit({ type: 'log', id, line, stream }),
      onBackend: (info) => {
        backend = info;
        opts.events.emit({ type: 'backend', id, backend: info });
      },
      onJob: (update) => {
        job = update;
        opts.events.emit({ type: 'job', id, job: update });
      },
    });
    const durationMs = Date.now() - started;
    if (end.job && (job?.jobId !== end.job.jobId || job.state !== end.job.state || job.node !== end.job.node)) {
      job = end.job;
      opts.events.emit({ type: 'job', id, job: end.job });
    }
    const withJob = { ...(backend ? { backend } : {}), ...(job ? { job } : {}) };
    if (!end.ok) {
      await opts.cache.discard(pending);
      if (end.interrupted) {
        opts.events.emit({ type: 'interrupted', id });
        return { status: 'interrupted', cacheKey: key, durationMs, ...withJob };
      }
      opts.events.emit({
        type: 'failed',
        id,
        cacheKey: key,
        durationMs,
        error: end.message,
        userFacing: end.userFacing,
        ...(end.detail ? { detail: end.detail } : {}),
      });
      return { status: 'failed', cacheKey: key, durationMs, error: end.message, ...withJob };
    }
    // A job adopted from a killed run wrote into that run's pending directory, not ours.
    if (end.pending.dir !== pending.dir) await opts.cache.discard(pending);
    const metrics = end.result.metrics;
    const entry = await opts.cache.commit(end.pending, { kind: inst.kind, instance: id, logFile, durationMs, ...(metrics ? { metrics } : {}), ...(backend ? { backend } : {}) });
    if (end.contentHash !== undefined && end.contentHash !== entry.meta.contentHash) {
      // The instance ran elsewhere: what this machine sees must be what it wrote, before dependents read it.
      await opts.cache.remove(key);
      const message = `the outputs seen here differ from what the instance wrote (content hash ${entry.meta.contentHash.slice(0, 12)} here, ${end.contentHash.slice(0, 12)} on the node): is the workspace on a filesystem the compute nodes share?`;
      opts.events.emit({ type: 'failed', id, cacheKey: key, durationMs, error: message, userFacing: true });
      return { status: 'failed', cacheKey: key, durationMs, error: message, ...withJob };
    }
    await rm(scratchDir, { recursive: true, force: true });
    opts.events.emit({ type: 'succeeded', id, cacheKey: key, durationMs, ...(metrics ? { metrics } : {}) });
    return {
      status: 'succeeded',
      cacheKey: key,
      contentHash: entry.meta.contentHash,
      outputsDir: entry.outputsDir,
      durationMs,
      ...(metrics ? { metrics } : {}),
      ...withJob,
    };
  } catch (err) {
    await opts.cache.discard(pending);
    throw err;
  }
}

const indexes = new WeakMap<Plan, Map<string, PlannedInstance>>();

function instancesById(plan: Plan): Map<string, PlannedInstance> {
  let map = indexes.get(plan);
  if (!map) indexes.set(plan, (map = new Map(plan.instances.map((i) => [i.id as string, i]))));
  return map;
}
