import { join } from 'node:path';
import { fail, ok, type Result } from '../common/result.js';
import { analyzePipeline, loadStageKinds, type AnalysisFailure } from '../pipeline/index.js';
import type { ExecutorName, SlurmSettings } from '../pipeline/executor-settings.js';
import type { Plan } from '../pipeline/types.js';
import { CacheStore } from './cache.js';
import { HashMemo } from './hash-memo.js';
import { LockManager } from './lock.js';
import { resolveSelection, type Selection } from './selection.js';
import { resolveSettings } from './settings.js';
import { workspaceAt, workspaceProblem, type Workspace } from './workspace.js';

export interface OpenRequest {
  file: string;
  workspace: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  cacheDir?: string;
  backend?: string;
  executor?: ExecutorName;
  dataPath: string[];
  only: string[];
  force: string[];
  schemasDir?: string;
  lockStaleMs?: number;
  maxInstances?: number;
  /** The workspace was given explicitly (--workspace), for messages. */
  workspaceFromOption?: boolean;
}

/** A validated pipeline bound to a workspace: everything `run`, `plan` and `--dry-run` share. */
export interface OpenPipeline {
  plan: Plan;
  versions: Map<string, string>;
  workspace: Workspace;
  memo: HashMemo;
  cache: CacheStore;
  locks: LockManager;
  selection: Selection;
  backend: string;
  dataPath: string[];
  executor: ExecutorName;
  slurm: SlurmSettings;
}

export type OpenFailure = { kind: 'invalid'; failure: AnalysisFailure } | { kind: 'usage'; message: string };

export async function openPipeline(req: OpenRequest): Promise<Result<OpenPipeline, OpenFailure>> {
  const analyzed = await analyzePipeline(req.file, {
    ...(req.schemasDir !== undefined ? { schemasDir: req.schemasDir } : {}),
    ...(req.maxInstances !== undefined ? { maxInstances: req.maxInstances } : {}),
  });
  if (!analyzed.ok) return fail({ kind: 'invalid', failure: analyzed.error });
  const plan = analyzed.value;
  const kinds = loadStageKinds(req.schemasDir);
  const versions = new Map([...kinds].map(([kind, info]) => [kind, info.version]));
  const settings = resolveSettings({
    ...(req.cacheDir !== undefined ? { cliCacheDir: req.cacheDir } : {}),
    ...(req.backend !== undefined ? { cliBackend: req.backend } : {}),
    ...(req.executor !== undefined ? { cliExecutor: req.executor } : {}),
    cliDataPath: req.dataPath,
    env: req.env,
    pipeline: plan.settings,
    workspaceRoot: req.workspace,
    cwd: req.cwd,
  });
  const selection = resolveSelection(plan, req.only, req.force);
  if (!selection.ok) return fail({ kind: 'usage', message: selection.error });
  const workspace = workspaceAt(req.workspace, settings.cacheDir);
  const problem = await workspaceProblem(workspace, {
    root: req.workspaceFromOption ? '--workspace' : 'the workspace',
    cacheDir: settings.cacheDirFrom === 'default' ? 'the cache directory' : settings.cacheDirFrom,
  });
  if (problem) return fail({ kind: 'usage', message: problem });
  const memo = await HashMemo.load(workspace.hashMemoFile);
  const cache = new CacheStore(workspace.cacheDir, workspace.tmpDir, memo);
  const locks = new LockManager(join(workspace.cacheDir, 'locks'), req.lockStaleMs !== undefined ? { staleMs: req.lockStaleMs } : {});
  return ok({ plan, versions, workspace, memo, cache, locks, selection: selection.value, backend: settings.backend, dataPath: settings.dataPath, executor: settings.executor, slurm: settings.slurm });
}
