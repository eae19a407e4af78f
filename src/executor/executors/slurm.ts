import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { EXECUTOR_DEFAULTS, type SlurmSettings } from '../../pipeline/executor-settings.js';
import { formatDuration, timeLimitSeconds, type StageResources } from '../../pipeline/resources.js';
import type { PendingEntry } from '../cache.js';
import type { ChildStartMessage } from '../../common/stage-protocol.js';
import type { JobUpdate } from '../events.js';
import { jobFilesOf, jobNameOf, type JobEvent, type JobFiles, type JobRecord, type JobResult } from '../job-protocol.js';
import { readJsonFile, writeJsonAtomic } from '../json-file.js';
import type { Executor, InstanceEnd, InstanceLaunch, Preflight } from './executor.js';
import { FileTail } from './file-tail.js';
import { renderJobScript } from './job-script.js';
import { SlurmCommandError, SlurmCommands, type QueueEntry } from './slurm-commands.js';
import { SlurmQueue, type QueueReport } from './slurm-queue.js';
import { describeEnding, meaningOf } from './slurm-states.js';

const JOB_ENTRY = fileURLToPath(new URL('../../stages/job.js', import.meta.url));
/** How often a running job's event and output files are read (for live progress and the log). */
const TAIL_INTERVAL_MS = 1000;
/**
 * A job Slurm calls COMPLETED may have written its result file a moment ago on another machine:
 * network filesystems cache attributes for a few seconds, so the head looks for this long.
 */
const RESULT_WAIT_MS = 10_000;
/** After scancel, how long to wait for Slurm to confirm the job ended before giving up on it. */
const CANCEL_WAIT_MS = 30_000;

export interface SlurmExecutorOptions {
  settings: SlurmSettings;
  /** The job's working directory. */
  workspaceRoot: string;
  env?: NodeJS.ProcessEnv;
  onWarning(message: string): void;
}

interface ActiveJob {
  jobId: string;
  attempt: number;
  pending: PendingEntry;
  adopted: boolean;
}

type FollowEnd = { end: InstanceEnd } | { retry: string };

/**
 * Runs each instance as one sbatch job: a job script in the run directory, files in the
 * instance's scratch directory for the start message, events, result and exit status, the
 * queue's answer for the job's state (slurm-states.ts says what each state means), scancel to
 * stop it. A job recorded in the scratch directory by a head that was killed is adopted rather
 * than submitted again.
 */
export class SlurmExecutor implements Executor {
  readonly name = 'slurm' as const;
  readonly queue: SlurmQueue;
  private readonly commands: SlurmCommands;

  constructor(private readonly opts: SlurmExecutorOptions) {
    this.commands = new SlurmCommands(opts.env ?? process.env);
    const interval = opts.settings.poll_interval ?? EXECUTOR_DEFAULTS.pollInterval;
    this.queue = new SlurmQueue(this.commands, interval * 1000, (m) => opts.onWarning(`Slurm: ${m}`));
  }

  slotsOf(): number {
    // `--jobs` counts jobs in the queue; Slurm itself fits their CPUs onto nodes.
    return 1;
  }

  async preflight(): Promise<Preflight> {
    const why = await this.commands.unavailable();
    return why ? { ok: false, message: `--executor slurm: ${why}` } : { ok: true };
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  async run(launch: InstanceLaunch): Promise<InstanceEnd> {
    const files = jobFilesOf(launch.start.scratchDir);
    await mkdir(files.dir, { recursive: true });
    const log = new InstanceLog(launch);
    try {
      let job = await this.adopt(launch, files, log);
      let attempt = job?.attempt ?? 1;
      const retries = this.opts.settings.retries ?? EXECUTOR_DEFAULTS.retries;
      for (;;) {
        if (!job) {
          if (launch.signal.aborted) return { ok: false, message: 'interrupted', userFacing: true, interrupted: true };
          try {
            job = await this.submit(launch, files, attempt, log);
          } catch (err) {
            if (!(err instanceof SlurmCommandError)) throw err;
            return { ok: false, message: err.message, userFacing: true, interrupted: launch.signal.aborted };
          }
        }
        const followed = await this.follow(launch, files, job, log);
        if ('end' in followed) {
          if (!followed.end.ok && job.pending.dir !== launch.pending.dir) await rm(job.pending.dir, { recursive: true, force: true });
          return followed.end;
        }
        if (attempt > retries) {
          return { ok: false, message: `${followed.retry}; gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} (settings.slurm.retries: ${retries})`, userFacing: true, interrupted: false };
        }
        log.line(`[bdlab] ${followed.retry}; submitting it again (attempt ${attempt + 1} of ${retries + 1})`);
        if (job.pending.dir !== launch.pending.dir) await rm(job.pending.dir, { recursive: true, force: true });
        await rm(launch.pending.outputsDir, { recursive: true, force: true });
        await mkdir(launch.pending.outputsDir, { recursive: true });
        attempt += 1;
        job = undefined;
      }
    } finally {
      await log.close();
    }
  }

  /**
   * A job recorded in the scratch directory belongs to a head that is gone (we hold the key's
   * lock). Take it over if it is still queued or running, or if it finished with a result;
   * otherwise clear its files so a fresh job starts clean.
   */
  private async adopt(launch: InstanceLaunch, files: JobFiles, log: InstanceLog): Promise<ActiveJob | undefined> {
    const record = await readJsonFile<JobRecord>(files.record);
    const start = await readJsonFile<ChildStartMessage>(files.start);
    let found: { jobId: string; attempt: number; pending: PendingEntry; by: string } | undefined;
    if (record) {
      found = { jobId: record.jobId, attempt: record.attempt, pending: { key: launch.cacheKey, ...record.pending }, by: `pid ${record.head.pid} on ${record.head.host}` };
    } else if (start) {
      // The head died between sbatch and recording the id: the job is known by its name.
      const live = (await this.commands.squeueByName(jobNameOf(launch))).find((e) => meaningOf(e.state).phase !== 'ended');
      if (live) found = { jobId: live.jobId, attempt: 1, pending: { key: launch.cacheKey, dir: dirname(start.outDir), outputsDir: start.outDir }, by: 'a run that was killed while submitting it' };
    }
    if (found) {
      const known = (await this.commands.squeue([found.jobId])).get(found.jobId) ?? (await this.knownEnding(found.jobId));
      // After a cluster reset job ids start over: a job with our id but another name isn't ours.
      const entry = known && (known.name === undefined || known.name === jobNameOf(launch)) ? known : undefined;
      const meaning = entry ? meaningOf(entry.state) : undefined;
      const result = await readJsonFile<JobResult>(files.result);
      const usable =
        (meaning !== undefined && meaning.phase !== 'ended') ||
        (result?.type === 'done' && meaning?.ending !== 'failed' && (await exists(found.pending.outputsDir)));
      if (usable) {
        log.line(`[bdlab] adopting Slurm job ${found.jobId} (${entry?.state ?? 'finished'}), submitted by an earlier run (${found.by}) that ended without waiting for it`);
        return { jobId: found.jobId, attempt: found.attempt, pending: found.pending, adopted: true };
      }
      if (found.pending.dir !== launch.pending.dir) await rm(found.pending.dir, { recursive: true, force: true });
    }
    await this.clearJobFiles(files);
    return undefined;
  }

  private async clearJobFiles(files: JobFiles): Promise<void> {
    for (const file of [files.record, files.result, files.exitStatus, files.events, files.stdout, files.stderr]) await rm(file, { force: true });
  }

  private async submit(launch: InstanceLaunch, files: JobFiles, attempt: number, log: InstanceLog): Promise<ActiveJob> {
    await this.clearJobFiles(files);
    await writeJsonAtomic(files.start, launch.start);
    const script = join(dirname(launch.logFile), 'job.sh');
    const jobName = jobNameOf(launch);
    await writeFile(
      script,
      renderJobScript({
        instanceId: launch.id,
        cacheKey: launch.cacheKey,
        jobName,
        files,
        workdir: this.opts.workspaceRoot,
        node: process.execPath,
        entry: JOB_ENTRY,
        resources: launch.resources,
        threads: launch.threads,
        slurm: this.opts.settings,
        start: launch.start,
      }),
      { mode: 0o755 },
    );
    const jobId = await this.queue.submit(script);
    const record: JobRecord = {
      jobId,
      jobName,
      attempt,
      submittedAt: new Date().toISOString(),
      head: { pid: process.pid, host: hostname() },
      pending: { dir: launch.pending.dir, outputsDir: launch.pending.outputsDir },
      script,
    };
    await writeJsonAtomic(files.record, record);
    log.line(`[bdlab] submitted Slurm job ${jobId}${attempt > 1 ? ` (attempt ${attempt})` : ''}: ${script}`);
    launch.onJob({ executor: 'slurm', jobId, state: 'PENDING', phase: 'queued', attempt });
    return { jobId, attempt, pending: launch.pending, adopted: false };
  }

  /** Follows one job until it ends: queue states, its files, and scancel when the run is stopped. */
  private follow(launch: InstanceLaunch, files: JobFiles, job: ActiveJob, log: InstanceLog): Promise<FollowEnd> {
    const tails = { events: new FileTail(files.events), stdout: new FileTail(files.stdout), stderr: new FileTail(files.stderr) };
    const lastStderr: string[] = [];
    const drain = async (final = false): Promise<void> => {
      for (const raw of [...(await tails.events.read()), ...(final ? tails.events.rest() : [])]) {
        let event: JobEvent;
        try {
          event = JSON.parse(raw) as JobEvent;
        } catch {
          continue;
        }
        if (event.type === 'progress') {
          const { type: _t, ...progress } = event;
          launch.onProgress(progress);
        } else if (event.type === 'log') log.stage(event.line, 'log');
        else if (event.type === 'backend') {
          launch.onBackend({ name: event.name, versions: event.versions });
          log.line(`backend: ${event.name} ${JSON.stringify(event.versions)}`);
        }
      }
      for (const line of [...(await tails.stdout.read()), ...(final ? tails.stdout.rest() : [])]) log.stage(line, 'stdout');
      for (const line of [...(await tails.stderr.read()), ...(final ? tails.stderr.rest() : [])]) {
        lastStderr.push(line);
        if (lastStderr.length > 5) lastStderr.shift();
        log.stage(line, 'stderr');
      }
    };

    return new Promise<FollowEnd>((resolve) => {
      let last: JobUpdate | undefined;
      let concluding = false;
      let settled = false;
      let draining = Promise.resolve();
      const tailTimer = setInterval(() => (draining = draining.then(() => drain()).catch(() => undefined)), TAIL_INTERVAL_MS);
      let cancelTimer: NodeJS.Timeout | undefined;

      const report = (entry: QueueEntry): void => {
        const meaning = meaningOf(entry.state);
        const update: JobUpdate = {
          executor: 'slurm',
          jobId: job.jobId,
          state: meaning.state,
          phase: meaning.phase,
          ...(entry.reason ? { reason: entry.reason } : {}),
          ...(entry.node ? { node: entry.node } : {}),
          ...(job.adopted ? { adopted: true } : {}),
          attempt: job.attempt,
        };
        if (last && last.state === update.state && last.reason === update.reason && last.node === update.node) return;
        last = update;
        launch.onJob(update);
      };

      const finish = (end: FollowEnd): void => {
        if (settled) return;
        settled = true;
        clearInterval(tailTimer);
        clearTimeout(cancelTimer);
        unwatch();
        launch.signal.removeEventListener('abort', onAbort);
        resolve(end);
      };

      const conclude = async (entry: QueueEntry | undefined): Promise<void> => {
        // squeue no longer lists the job: ask what else remembers it.
        const known = entry ?? (await this.knownEnding(job.jobId));
        if (known && meaningOf(known.state).phase !== 'ended') {
          concluding = false;
          return;
        }
        const detailed = known && meaningOf(known.state).state === 'FAILED' && !known.exitCode ? { ...known, ...(await this.commands.scontrolJob(job.jobId)) } : known;
        if (detailed) report(detailed);
        await draining;
        await drain();
        const result = await readResult(files, detailed ? meaningOf(detailed.state).ending === 'completed' : false);
        await drain(true);
        const exitStatus = await readExitStatus(files);
        finish(this.ending(launch, job, detailed, result, exitStatus, lastStderr));
      };

      const unwatch = this.queue.watch(job.jobId, (r: QueueReport) => {
        if (concluding || settled) return;
        if ('unreachable' in r) {
          finish({ end: { ok: false, message: `${r.unreachable}; Slurm job ${job.jobId} may still be running (a rerun adopts it)`, userFacing: true, interrupted: false, ...(last ? { job: last } : {}) } });
        } else if ('gone' in r || meaningOf(r.entry.state).phase === 'ended') {
          concluding = true;
          void conclude('gone' in r ? undefined : r.entry).catch((err: unknown) =>
            finish({ end: { ok: false, message: `while reading the end of Slurm job ${job.jobId}: ${(err as Error).message}`, userFacing: false, interrupted: launch.signal.aborted } }),
          );
        } else {
          report(r.entry);
        }
      });

      const onAbort = (): void => {
        log.line(`[bdlab] run interrupted: cancelling Slurm job ${job.jobId}`);
        this.queue.cancel(job.jobId).catch((err: unknown) => this.opts.onWarning(`Slurm: ${(err as Error).message}`));
        cancelTimer = setTimeout(
          () => finish({ end: { ok: false, message: `interrupted; Slurm did not confirm the cancellation of job ${job.jobId} within ${CANCEL_WAIT_MS / 1000} s`, userFacing: true, interrupted: true } }),
          CANCEL_WAIT_MS,
        );
      };
      if (launch.signal.aborted) onAbort();
      else launch.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The state of a job squeue no longer lists, from scontrol, else accounting (sacct). */
  private async knownEnding(jobId: string): Promise<QueueEntry | undefined> {
    return (await this.commands.scontrolJob(jobId)) ?? (await this.commands.sacct(jobId));
  }

  /** What a job that ended means for its instance; see slurm-states.ts. */
  private ending(
    launch: InstanceLaunch,
    job: ActiveJob,
    entry: QueueEntry | undefined,
    result: JobResult | undefined,
    exitStatus: number | undefined,
    lastStderr: string[],
  ): FollowEnd {
    const jobInfo: JobUpdate = {
      executor: 'slurm',
      jobId: job.jobId,
      state: entry ? meaningOf(entry.state).state : result?.type === 'done' && exitStatus === 0 ? 'COMPLETED' : 'LOST',
      phase: 'ended',
      ...(entry?.node ? { node: entry.node } : {}),
      ...(job.adopted ? { adopted: true } : {}),
      attempt: job.attempt,
    };
    const state = jobInfo.state;
    const meaning = meaningOf(state);
    const failed = (message: string, userFacing = true, detail?: string): FollowEnd => ({
      end: { ok: false, message, userFacing, interrupted: false, job: jobInfo, ...(detail ? { detail } : {}) },
    });
    if (launch.signal.aborted && meaning.ending !== 'completed') {
      return { end: { ok: false, message: 'interrupted', userFacing: true, interrupted: true, job: jobInfo } };
    }
    if (meaning.ending === 'completed') {
      if (result?.type === 'done') return { end: { ok: true, result: result.result, pending: job.pending, contentHash: result.contentHash, job: jobInfo } };
      if (result?.type === 'error') return failed(result.message, result.userFacing, result.stack);
      return failed(`Slurm job ${job.jobId} completed but its result file ${launch.start.scratchDir}/slurm/result.json never appeared on this machine: is the workspace on a filesystem the compute nodes share?`);
    }
    if (state === 'FAILED') {
      if (result?.type === 'error') return failed(result.message, result.userFacing, result.stack);
      const code = exitStatus ?? Number(entry?.exitCode?.split(':')[0] ?? NaN);
      const tail = lastStderr.length ? `; last stderr: ${lastStderr.join(' | ')}` : '';
      return failed(describeEnding(job.jobId, state, Number.isFinite(code) ? `with exit code ${code}` : undefined) + tail);
    }
    if (meaning.retry) return { retry: describeEnding(job.jobId, state) };
    const limit = state === 'TIMEOUT' ? timeLimitOf(launch.resources, this.opts.settings) : state === 'OUT_OF_MEMORY' ? memoryOf(launch.resources, this.opts.settings) : undefined;
    return failed(describeEnding(job.jobId, state, limit));
  }
}

function timeLimitOf(resources: StageResources, settings: SlurmSettings): string | undefined {
  const time = resources.time ?? settings.time;
  return time === undefined ? undefined : `of ${formatDuration(Math.ceil(timeLimitSeconds(time) / 60) * 60)}`;
}

function memoryOf(resources: StageResources, settings: SlurmSettings): string | undefined {
  const mem = resources.mem ?? settings.mem;
  return mem === undefined ? undefined : `of ${typeof mem === 'number' ? `${mem}M` : mem}`;
}


async function readResult(files: JobFiles, expected: boolean): Promise<JobResult | undefined> {
  const deadline = Date.now() + (expected ? RESULT_WAIT_MS : 0);
  for (;;) {
    const result = await readJsonFile<JobResult>(files.result);
    if (result || Date.now() >= deadline) return result;
    await sleep(250);
  }
}

async function readExitStatus(files: JobFiles): Promise<number | undefined> {
  const text = await readFile(files.exitStatus, 'utf8').catch(() => undefined);
  return text !== undefined && /^\d+\s*$/.test(text) ? Number(text) : undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The instance's log.txt: bdlab's own lines, and the stage's lines as the local executor writes them. */
class InstanceLog {
  private readonly stream: WriteStream;

  constructor(private readonly launch: InstanceLaunch) {
    this.stream = createWriteStream(launch.logFile, { flags: 'a' });
  }

  line(text: string): void {
    this.stream.write(`${text}\n`);
  }

  stage(line: string, stream: 'log' | 'stdout' | 'stderr'): void {
    this.stream.write(stream === 'log' ? `${line}\n` : `[${stream}] ${line}\n`);
    this.launch.onLog(line, stream);
  }

  async close(): Promise<void> {
    this.stream.end();
    await once(this.stream, 'close').catch(() => undefined);
  }
}
