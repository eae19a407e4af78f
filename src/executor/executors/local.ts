import { readFile } from 'node:fs/promises';
import { formatDuration, memoryBytes, timeLimitSeconds, type StageResources } from '../../pipeline/resources.js';
import { runStageInChild } from '../child-runner.js';
import type { Executor, InstanceEnd, InstanceLaunch, Preflight } from './executor.js';

/** How often a child's resident memory is compared with `resources.mem`. */
const MEMORY_CHECK_MS = 1000;

/**
 * Runs each instance as a child process of this one, talking over IPC (child-runner.ts).
 * `resources` are honoured here too: `cpus` is the instance's thread cap and takes that many
 * `--jobs` slots, an instance running past `time` is stopped like an interrupted one, and one whose
 * resident memory grows past `mem` is killed (checked every second, Linux only).
 */
export class LocalExecutor implements Executor {
  readonly name = 'local' as const;

  constructor(private readonly opts: { cwd: string; killGraceMs?: number }) {}

  slotsOf(resources: StageResources): number {
    return resources.cpus ?? 1;
  }

  async preflight(): Promise<Preflight> {
    return { ok: true };
  }

  async close(): Promise<void> {}

  async run(launch: InstanceLaunch): Promise<InstanceEnd> {
    const { resources } = launch;
    const stop = new AbortController();
    let limit: string | undefined;
    const stopFor = (why: string): void => {
      limit ??= why;
      stop.abort(new Error(why));
    };
    const onAbort = (): void => stop.abort(launch.signal.reason);
    if (launch.signal.aborted) onAbort();
    else launch.signal.addEventListener('abort', onAbort, { once: true });
    const timer =
      resources.time !== undefined
        ? setTimeout(() => stopFor(`ran past its time limit of ${formatDuration(timeLimitSeconds(resources.time!))} (resources.time) and was stopped`), timeLimitSeconds(resources.time) * 1000)
        : undefined;
    let memoryTimer: NodeJS.Timeout | undefined;
    try {
      const outcome = await runStageInChild({
        start: launch.start,
        threads: launch.threads,
        logFile: launch.logFile,
        cwd: this.opts.cwd,
        signal: stop.signal,
        ...(this.opts.killGraceMs !== undefined ? { killGraceMs: this.opts.killGraceMs } : {}),
        onProgress: launch.onProgress,
        onLog: launch.onLog,
        onBackend: launch.onBackend,
        onSpawn: (pid) => {
          if (resources.mem === undefined || process.platform !== 'linux') return;
          const allowed = memoryBytes(resources.mem);
          memoryTimer = setInterval(() => {
            void residentBytes(pid).then((rss) => {
              if (rss === undefined || rss <= allowed) return;
              limit ??= `used ${(rss / 1024 ** 3).toFixed(2)} GiB, more than its memory limit of ${resources.mem} (resources.mem), and was killed`;
              process.kill(pid, 'SIGKILL');
            });
          }, MEMORY_CHECK_MS);
        },
      });
      if (outcome.ok) return { ok: true, result: outcome.result, pending: launch.pending };
      if (limit !== undefined && !launch.signal.aborted) return { ok: false, message: limit, userFacing: true, interrupted: false };
      return { ...outcome, interrupted: launch.signal.aborted };
    } finally {
      clearTimeout(timer);
      clearInterval(memoryTimer);
      launch.signal.removeEventListener('abort', onAbort);
    }
  }
}

async function residentBytes(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kb = status && /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : undefined;
}
