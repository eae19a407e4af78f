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
  /** Where cacheDir came from, for messages. */
  cacheDirFrom: '--cache-dir' | 'BDLAB_CACHE_DIR' | 'settings.cache_dir' | 'default';
  backend: string;
  dataPath: string[];
  executor: ExecutorName;
  /** `settings.slurm` as written (validated by the pipeline schema). */
  slurm: SlurmSettings;
}

/**
 * Precedence: command line > environment (BDLAB_CACHE_DIR, BDLAB_BACKEND, BDLAB_DATA_PATH) >
 * pipeline settings > default. Paths in the pipeline
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

  // A pipeline's cache_dir was checked to stay inside the workspace (analyze.ts); the command line
  // and the environment are the user's own and may point anywhere.
  const pipelineCache = fromPipeline('cache_dir');
  const envCache = src.env['BDLAB_CACHE_DIR']?.trim() || undefined;
  const cacheDir = src.cliCacheDir ?? (envCache ? absolute(envCache, src.cwd) : undefined) ?? (pipelineCache ? absolute(pipelineCache, src.workspaceRoot) : undefined);

  const envPath = (src.env['BDLAB_DATA_PATH'] ?? '').split(delimiter).filter((p) => p.length > 0).map((p) => absolute(p, src.cwd));
  const rawPipelinePath = src.pipeline['data_path'];
  const pipelinePath = (Array.isArray(rawPipelinePath) ? rawPipelinePath : typeof rawPipelinePath === 'string' ? [rawPipelinePath] : [])
    .filter((p): p is string => typeof p === 'string' && p.length > 0)
    .map((p) => absolute(p, src.workspaceRoot));
  const dataPath = [...new Set([...src.cliDataPath, ...envPath, ...pipelinePath])];

  const cacheDirFrom = src.cliCacheDir ? '--cache-dir' : envCache ? 'BDLAB_CACHE_DIR' : pipelineCache ? 'settings.cache_dir' : 'default';
  const executor = src.cliExecutor ?? (fromPipeline('executor') as ExecutorName | undefined) ?? 'local';
  const slurm = (src.pipeline['slurm'] ?? {}) as SlurmSettings;

  return { ...(cacheDir ? { cacheDir } : {}), cacheDirFrom, backend, dataPath, executor, slurm };
}

function absolute(p: string, base: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}
