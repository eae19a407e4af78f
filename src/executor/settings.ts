import { delimiter, isAbsolute, resolve } from 'node:path';
import type { JsonObject } from '../common/json.js';
import type { ExecutorName, SlurmSettings } from '../pipeline/executor-settings.js';

export interface SettingsSources {
  /** Already absolute (the CLI resolves its arguments against cwd). */
  cliCacheDir?: string;
  cliBackend?: string;
  cliExecutor?: ExecutorName;
  cliDataPath: string[];
  env: NodeJS.ProcessEnv;
  /** `settings:` of the pipeline file. */
  pipeline: JsonObject;
  workspaceRoot: string;
  cwd: string;
}

export interface ResolvedSettings {
  /** Undefined means the workspace default (`.bdlab/cache`). */
  cacheDir?: string;
  backend: string;
  dataPath: string[];
  executor: ExecutorName;
  /** `settings.slurm` as written (validated by the pipeline schema). */
  slurm: SlurmSettings;
}

/**
 * Precedence: command line > environment > pipeline settings > default. Paths in the pipeline
 * file are relative to the workspace (so a pipeline means the same thing from any cwd); paths
 * from the environment are relative to cwd like any shell variable.
 */
export function resolveSettings(src: SettingsSources): ResolvedSettings {
  const fromPipeline = (key: string): string | undefined => {
    const v = src.pipeline[key];
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  };
  const envBackend = src.env['BDLAB_BACKEND']?.trim() || undefined;
  const backend = src.cliBackend ?? envBackend ?? fromPipeline('backend') ?? 'auto';

  const pipelineCache = fromPipeline('cache_dir');
  const cacheDir = src.cliCacheDir ?? (pipelineCache ? absolute(pipelineCache, src.workspaceRoot) : undefined);

  const envPath = (src.env['BDLAB_DATA_PATH'] ?? '').split(delimiter).filter((p) => p.length > 0).map((p) => absolute(p, src.cwd));
  const rawPipelinePath = src.pipeline['data_path'];
  const pipelinePath = (Array.isArray(rawPipelinePath) ? rawPipelinePath : typeof rawPipelinePath === 'string' ? [rawPipelinePath] : [])
    .filter((p): p is string => typeof p === 'string' && p.length > 0)
    .map((p) => absolute(p, src.workspaceRoot));
  const dataPath = [...new Set([...src.cliDataPath, ...envPath, ...pipelinePath])];

  const executor = src.cliExecutor ?? (fromPipeline('executor') as ExecutorName | undefined) ?? 'local';
  const slurm = (src.pipeline['slurm'] ?? {}) as SlurmSettings;

  return { ...(cacheDir ? { cacheDir } : {}), backend, dataPath, executor, slurm };
}

function absolute(p: string, base: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}
