/**
 * Runs one stage instance in this process: loads the kind's implementation (`./<kind>.js`), gives
 * it a StageContext whose progress, logs and backend reports go to `send`, and returns the final
 * message (done or error). Both entry points use it: child.ts (a local child process, over IPC)
 * and job.ts (a Slurm job on a compute node, over files), so an instance runs the same code
 * wherever it runs.
 */
import type { ChildMessage, ChildStartMessage } from '../common/stage-protocol.js';
import type { StageContext, StageImplementation, StageResult } from '../common/stage-contract.js';

export type FinalMessage = Extract<ChildMessage, { type: 'done' | 'error' }>;

export function errorMessage(err: unknown): FinalMessage {
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

export async function runInstance(start: ChildStartMessage, signal: AbortSignal, send: (message: ChildMessage) => void): Promise<FinalMessage> {
  const ctx: StageContext = {
    id: start.id,
    inputs: start.inputs,
    outDir: start.outDir,
    scratchDir: start.scratchDir,
    dataPath: start.dataPath,
    backend: start.backend,
    ...(start.cpus !== undefined ? { cpus: start.cpus } : {}),
    signal,
    progress: (p) => send({ type: 'progress', ...p }),
    log: (line) => send({ type: 'log', line }),
    reportBackend: (info) => send({ type: 'backend', name: info.name, versions: info.versions, threads: info.threads }),
  };
  let result: StageResult;
  try {
    const impl = await loadImplementation(start.kind);
    result = (await (impl.runPlanned ? impl.runPlanned(start.params, ctx) : impl.run(start.params, ctx))) ?? {};
  } catch (err) {
    return errorMessage(err);
  }
  return { type: 'done', result };
}
