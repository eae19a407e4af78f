import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { StageProgress, StageResult } from '../common/stage-contract.js';
import type { ChildMessage, ChildStartMessage } from '../common/stage-protocol.js';
import { THREADS_ENV } from '../common/threads.js';
import type { BackendInfo } from './events.js';

export interface ChildRunRequest {
  start: ChildStartMessage;
  /** Threads for the stage's kernels, passed in $BDLAB_THREADS (the environment is otherwise inherited). */
  threads: number;
  /** Receives every log line and the child's stdout/stderr. */
  logFile: string;
  cwd: string;
  signal: AbortSignal;
  /** After an abort, how long the child may take to exit before SIGKILL. */
  killGraceMs?: number;
  onProgress(progress: StageProgress): void;
  onLog(line: string, stream: 'log' | 'stdout' | 'stderr'): void;
  onBackend(backend: BackendInfo): void;
  /** The child's pid, once it runs (for watching its memory). */
  onSpawn?(pid: number): void;
}

export type ChildOutcome =
  | { ok: true; result: StageResult }
  | { ok: false; message: string; userFacing: boolean; detail?: string; interrupted: boolean };

const CHILD_ENTRY = fileURLToPath(new URL('../stages/child.js', import.meta.url));

/** Runs one stage instance in a fresh Node process and resolves when that process has exited. */
export async function runStageInChild(req: ChildRunRequest): Promise<ChildOutcome> {
  const log = createWriteStream(req.logFile, { flags: 'a' });
  const writeLog = (line: string, stream: 'log' | 'stdout' | 'stderr'): void => {
    log.write(stream === 'log' ? `${line}\n` : `[${stream}] ${line}\n`);
    req.onLog(line, stream);
  };
  let reported: ChildMessage | undefined;
  const lastStderr: string[] = [];

  // execa is imported on first use: cached reruns and read-only commands never pay for it.
  const { execaNode } = await import('execa');
  const child = execaNode(CHILD_ENTRY, [], {
    ipc: true,
    ipcInput: req.start,
    env: { [THREADS_ENV]: String(req.threads) },
    cwd: req.cwd,
    stdin: 'ignore',
    buffer: false,
    reject: false,
  });
  if (child.pid !== undefined) req.onSpawn?.(child.pid);
  child.on('message', (raw: ChildMessage) => {
    switch (raw.type) {
      case 'progress': {
        const { type: _t, ...progress } = raw;
        req.onProgress(progress);
        break;
      }
      case 'log':
        writeLog(raw.line, 'log');
        break;
      case 'backend':
        req.onBackend({ name: raw.name, versions: raw.versions, ...(raw.threads !== undefined ? { threads: raw.threads } : {}) });
        log.write(`backend: ${raw.name} ${JSON.stringify(raw.versions)}${raw.threads !== undefined ? `, ${raw.threads} thread(s)` : ''}\n`);
        break;
      case 'done':
      case 'error':
        reported = raw;
        break;
    }
  });
  // Ask first (ctx.signal lets a stage stop cleanly between batches), then kill after the grace period.
  let killTimer: NodeJS.Timeout | undefined;
  const abortChild = (): void => {
    if (child.connected) child.send({ type: 'abort' });
    killTimer = setTimeout(() => child.kill('SIGKILL'), req.killGraceMs ?? 3000);
  };
  if (req.signal.aborted) abortChild();
  else req.signal.addEventListener('abort', abortChild, { once: true });
  const readers = [pipeLines(child.stdout, (l) => writeLog(l, 'stdout')), pipeLines(child.stderr, (l) => {
    lastStderr.push(l);
    if (lastStderr.length > 5) lastStderr.shift();
    writeLog(l, 'stderr');
  })];

  const result = await child;
  clearTimeout(killTimer);
  await Promise.all(readers);
  req.signal.removeEventListener('abort', abortChild);
  log.end();
  await once(log, 'close').catch(() => undefined);

  const interrupted = req.signal.aborted;
  if (reported?.type === 'done' && result.exitCode === 0) return { ok: true, result: reported.result };
  if (reported?.type === 'error') {
    return { ok: false, message: reported.message, userFacing: reported.userFacing, interrupted, ...(reported.stack ? { detail: reported.stack } : {}) };
  }
  if (interrupted) return { ok: false, message: 'interrupted', userFacing: true, interrupted };
  const how = result.signal
    ? `was killed by ${result.signal}${result.signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
    : `exited with code ${result.exitCode ?? '?'}`;
  const tail = lastStderr.length ? `; last stderr: ${lastStderr.join(' | ')}` : '';
  return { ok: false, message: `the stage process ${how} without reporting a result${tail}`, userFacing: true, interrupted };
}

function pipeLines(stream: Readable | null, onLine: (line: string) => void): Promise<void> {
  if (!stream) return Promise.resolve();
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', onLine);
  return once(rl, 'close').then(() => undefined);
}
