import { fail, ok, type Result } from './result.js';

/**
 * How many threads a stage's native kernels use: a contract between the runner, which resolves it
 * (src/executor/threads.ts), and the engine in the stage's process, which applies it. The runner
 * passes the resolved count to each stage child in this environment variable; a user may set it too.
 */
export const THREADS_ENV = 'BDLAB_THREADS';

/** A thread count, or 'auto': the cores this process may use, shared among the jobs running at once. */
export type ThreadsSetting = number | 'auto';

/** The most threads accepted (the native pool's own limit). */
export const MAX_THREADS = 1024;

/** 'auto' or a whole number from 1 to MAX_THREADS; the error says what would be valid. */
export function parseThreadsSetting(value: string | number): Result<ThreadsSetting, string> {
  const text = String(value).trim().toLowerCase();
  if (text === 'auto') return ok('auto');
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= MAX_THREADS) return ok(n);
  }
  return fail(`"${String(value)}" is not a thread count: use a whole number from 1 to ${MAX_THREADS}, or auto (the available cores divided by --jobs)`);
}

/** 'auto': the cores available to this process (affinity and cgroup limits included) divided among `jobs` at once, at least 1. */
export function autoThreads(available: number, jobs: number): number {
  return Math.max(1, Math.floor(available / Math.max(1, jobs)));
}
