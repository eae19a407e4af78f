import { autoThreads, parseThreadsSetting, THREADS_ENV, type ThreadsSetting } from '../common/threads.js';
import { fail, ok, type Result } from '../common/result.js';

export interface ThreadsSources {
  /** --threads, as typed. */
  cli?: string;
  /** $BDLAB_THREADS of the runner's environment. */
  env?: string;
  /** settings.threads of the pipeline (already validated by its schema). */
  settings?: ThreadsSetting;
  /** --jobs: stages running at once share the cores. */
  jobs: number;
  /** Cores this process may use: os.availableParallelism() (affinity and cgroup limits respected). */
  available: number;
  /** Cores a stage was granted by its executor (e.g. a cluster job's CPUs): caps the count, and is what 'auto' means. */
  stageCpus?: number;
}

export interface ResolvedThreads {
  threads: number;
  /** Where the setting came from, for messages. */
  source: 'cli' | 'env' | 'settings' | 'default';
  setting: ThreadsSetting;
}

/**
 * The thread count each stage's kernels use. Precedence as for every setting: --threads, then
 * $BDLAB_THREADS, then settings.threads, then 'auto'. 'auto' divides the available cores among the
 * --jobs stages that may run at once (at least 1 each), so `--jobs 2` on 2 cores gives each stage one
 * thread and `--jobs 1` gives one stage both. Thread counts never enter cache keys: results agree
 * across counts to float rounding (README, "Threads").
 */
export function resolveThreads(src: ThreadsSources): Result<ResolvedThreads, string> {
  let setting: ThreadsSetting = 'auto';
  let source: ResolvedThreads['source'] = 'default';
  const env = src.env?.trim();
  if (src.cli !== undefined) {
    const parsed = parseThreadsSetting(src.cli);
    if (!parsed.ok) return fail(`--threads: ${parsed.error}`);
    [setting, source] = [parsed.value, 'cli'];
  } else if (env) {
    const parsed = parseThreadsSetting(env);
    if (!parsed.ok) return fail(`$${THREADS_ENV}: ${parsed.error}`);
    [setting, source] = [parsed.value, 'env'];
  } else if (src.settings !== undefined) {
    [setting, source] = [src.settings, 'settings'];
  }
  const cap = src.stageCpus !== undefined && src.stageCpus >= 1 ? Math.floor(src.stageCpus) : undefined;
  const threads = setting === 'auto' ? (cap ?? autoThreads(src.available, src.jobs)) : Math.min(setting, cap ?? setting);
  return ok({ threads, source, setting });
}
