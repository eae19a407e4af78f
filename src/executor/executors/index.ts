import type { ExecutorName, SlurmSettings } from '../../pipeline/executor-settings.js';
import type { Executor } from './executor.js';
import { LocalExecutor } from './local.js';
import { SlurmExecutor } from './slurm.js';

export type { Executor, InstanceEnd, InstanceLaunch, Preflight } from './executor.js';

export interface ExecutorRequest {
  name: ExecutorName;
  /** The workspace root: working directory of every instance. */
  cwd: string;
  slurm: SlurmSettings;
  env?: NodeJS.ProcessEnv;
  killGraceMs?: number;
  onWarning(message: string): void;
}

export function createExecutor(req: ExecutorRequest): Executor {
  if (req.name === 'slurm') {
    return new SlurmExecutor({ settings: req.slurm, workspaceRoot: req.cwd, ...(req.env ? { env: req.env } : {}), onWarning: req.onWarning });
  }
  return new LocalExecutor({ cwd: req.cwd, ...(req.killGraceMs !== undefined ? { killGraceMs: req.killGraceMs } : {}) });
}
