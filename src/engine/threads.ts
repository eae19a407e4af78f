import { availableParallelism } from 'node:os';
import { autoThreads, parseThreadsSetting, THREADS_ENV } from '../common/threads.js';
import { waitForDeferredKernels } from './kernels/deferred.js';
import { loadNativeKernels } from './native.js';

let requested: number | undefined;

/**
 * The threads the native kernels use in this process: set by setEngineThreads, else $BDLAB_THREADS
 * (which the runner sets for every stage child to its resolved --threads), else every available core
 * ('auto' for a process running alone).
 */
export function engineThreads(): number {
  if (requested !== undefined) return requested;
  const value = process.env[THREADS_ENV]?.trim();
  if (!value) return autoThreads(availableParallelism(), 1);
  const parsed = parseThreadsSetting(value);
  if (!parsed.ok) throw new Error(`$${THREADS_ENV}: ${parsed.error}`);
  return parsed.value === 'auto' ? autoThreads(availableParallelism(), 1) : parsed.value;
}

/**
 * Sets the native kernels' thread count (the calling thread included; 1 runs every kernel on it).
 * Takes effect at once when the addon is loaded, else when it loads. Results are bit-identical from
 * run to run at one count and agree to about 1e-6 across counts.
 */
export function setEngineThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`thread count must be a positive integer, got ${threads}`);
  requested = threads;
  applyEngineThreads();
}

/** Hands the thread count to the addon, if it is loaded; returns the count in force for native kernels. */
export function applyEngineThreads(): number {
  const threads = engineThreads();
  const native = loadNativeKernels();
  if (native.loaded) {
    waitForDeferredKernels();
    native.kernels.setThreads(threads);
  }
  return threads;
}
