import * as tf from '@tensorflow/tfjs';

/**
 * Our kernels replace TF.js' own ones under the same (kernelName, backendName). The originals are kept
 * so tests and benchmarks can compute a reference with the pristine kernels, then switch ours back on.
 */
const originals = new Map<string, tf.KernelConfig | undefined>();
const installed = new Map<string, tf.KernelConfig>();

function key(kernelName: string, backendName: string): string {
  return `${backendName}/${kernelName}`;
}

function replace(kernelName: string, backendName: string, config: tf.KernelConfig | undefined): void {
  if (tf.getKernel(kernelName, backendName) !== undefined) tf.unregisterKernel(kernelName, backendName);
  if (config === undefined) return;
  tf.registerKernel(config);
  // TF.js binds a kernel's wasm export in setupFunc only when a backend is activated; re-registering a
  // kernel on an already active backend must do it itself.
  const active = initializedBackend(backendName);
  if (config.setupFunc !== undefined && active !== undefined) config.setupFunc(active);
}

/**
 * The backend instance if it is already initialized. (tf.findBackend would instead start initializing
 * it, and for wasm every such call instantiates another WebAssembly module.)
 */
function initializedBackend(backendName: string): tf.KernelBackend | undefined {
  return (tf.engine() as unknown as { registry: Record<string, tf.KernelBackend | undefined> }).registry[backendName];
}

/** Registers `configs`, remembering whatever they replace; idempotent. Returns the kernel names now ours. */
export function installKernels(configs: readonly tf.KernelConfig[]): string[] {
  for (const config of configs) {
    const k = key(config.kernelName, config.backendName);
    if (!originals.has(k)) originals.set(k, tf.getKernel(config.kernelName, config.backendName));
    installed.set(k, config);
    replace(config.kernelName, config.backendName, config);
  }
  return customKernelNames(configs[0]?.backendName ?? '');
}

/** Switches between our kernels (true) and TF.js' originals (false) for one backend, e.g. to compute references. */
export function setCustomKernelsEnabled(backendName: string, enabled: boolean): void {
  for (const [k, config] of installed) {
    if (config.backendName !== backendName) continue;
    replace(config.kernelName, backendName, enabled ? config : originals.get(k));
  }
}

export function customKernelNames(backendName: string): string[] {
  return [...installed.values()].filter((c) => c.backendName === backendName).map((c) => c.kernelName).sort();
}

/** The kernel TF.js itself registered under this name (before any override of ours), for composing kernels. */
export function originalKernel(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  const k = key(kernelName, backendName);
  return originals.has(k) ? originals.get(k) : tf.getKernel(kernelName, backendName);
}

/**
 * TF.js runs setupFunc (binding the wasm exports) only for kernels registered when the backend starts,
 * but original kernels we replaced are still called internally by others (e.g. wasm Sum calls the
 * Transpose binding directly), so bind them once the backend is live.
 */
export function setUpReplacedOriginals(backendName: string): void {
  const active = initializedBackend(backendName);
  if (active === undefined) return;
  for (const [k, config] of originals) {
    if (config?.setupFunc !== undefined && k.startsWith(`${backendName}/`)) config.setupFunc(active);
  }
}
