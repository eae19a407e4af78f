/**
 * Entry point of a stage child process: receives one start message over IPC, runs the stage kind's
 * implementation (`./<kind>.js`), reports progress/logs/result back, and exits. A fresh process
 * per instance means a crash fails only that instance and all memory is returned afterwards.
 */
import type { ChildMessage, ChildStartMessage, ParentMessage } from '../common/stage-protocol.js';
import type { StageContext, StageImplementation, StageResult } from '../common/stage-contract.js';

const abort = new AbortController();

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function finish(message: ChildMessage, code: number): Promise<never> {
  await send(message);
  process.exit(code);
}

function errorMessage(err: unknown): ChildMessage {
  const userFacing = err instanceof Error && err.name === 'StageError';
  if (err instanceof Error) {
    return { type: 'error', message: err.message, userFacing, ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { type: 'error', message: String(err), userFacing: false };
}

async function loadImplementation(kind: string): Promise<StageImplementation> {
  if (!/^[a-z][a-z0-9_-]*$/.test(kind)) throw Object.assign(new Error(`invalid stage kind "${kind}"`), { name: 'StageError' });
  let mod: { default?: StageImplementation };
  try {
    mod = (await import(`./${kind}.js`)) as { default?: StageImplementation };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const url = (err as { url?: string }).url ?? '';
    if (code === 'ERR_MODULE_NOT_FOUND' && url.endsWith(`/${kind}.js`)) {
      const e = new Error(`stage kind "${kind}" has no implementation: expected src/stages/${kind}.ts exporting a StageImplementation as default (is the build up to date?)`);
      e.name = 'StageError';
      throw e;
    }
    throw err;
  }
  if (!mod.default || typeof mod.default.run !== 'function') {
    const e = new Error(`src/stages/${kind}.ts does not export a StageImplementation as default`);
    e.name = 'StageError';
    throw e;
  }
  return mod.default;
}

async function runStage(start: ChildStartMessage): Promise<never> {
  const ctx: StageContext = {
    id: start.id,
    inputs: start.inputs,
    outDir: start.outDir,
    scratchDir: start.scratchDir,
    dataPath: start.dataPath,
    backend: start.backend,
    signal: abort.signal,
    progress: (p) => void send({ type: 'progress', ...p }),
    log: (line) => void send({ type: 'log', line }),
    reportBackend: (info) => void send({ type: 'backend', name: info.name, versions: info.versions }),
  };
  let result: StageResult;
  try {
    const impl = await loadImplementation(start.kind);
    result = (await impl.run(start.params, ctx)) ?? {};
  } catch (err) {
    return finish(errorMessage(err), 1);
  }
  return finish({ type: 'done', result }, 0);
}

// Ctrl-C in a terminal reaches the whole process group; the parent decides how to stop us.
process.on('SIGINT', () => undefined);
// If the runner dies (even by SIGKILL) the IPC channel closes: don't keep working for nobody.
process.on('disconnect', () => process.exit(129));
process.on('uncaughtException', (err) => void finish(errorMessage(err), 1));
process.on('unhandledRejection', (err) => void finish(errorMessage(err), 1));

let started = false;
process.on('message', (message: ParentMessage) => {
  if (message.type === 'abort') {
    abort.abort(new Error('run interrupted'));
  } else if (message.type === 'start' && !started) {
    started = true;
    void runStage(message);
  }
});
