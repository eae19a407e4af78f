import * as tf from '@tensorflow/tfjs';

/**
 * Our kernels replace TF.js' own ones under the same (kernelName, backendName). The originals are kept
 * so tests and benchmarks can compute a reference with the pristine kernels, then switch ours back on.
 */
const originals = new Map<string, tf.KernelConfig | undefined>();
/** Our configs per kernel, in installation order: native kernels are installed over our wasm ones. */
const installed = new Map<string, tf.KernelConfig[]>();
const nativeConfigs = new Set<tf.KernelConfig>();
let nativeEnabled = true;

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

/**
 * Registers `configs`, remembering whatever they replace; idempotent. `native` marks kernels of the
 * native addon, which tests can switch off to exercise the wasm kernels beneath them.
 */
export function installKernels(configs: readonly tf.KernelConfig[], options: { native?: boolean } = {}): string[] {
  for (const config of configs) {
    const k = key(config.kernelName, config.backendName);
    if (!originals.has(k)) originals.set(k, tf.getKernel(config.kernelName, config.backendName));
    const stack = installed.get(k) ?? [];
    if (!stack.some((c) => c.kernelFunc === config.kernelFunc)) stack.push(config);
    installed.set(k, stack);
    if (options.native) nativeConfigs.add(config);
    replace(config.kernelName, config.backendName, effective(k));
  }
  return customKernelNames(configs[0]?.backendName ?? '');
}

/** The config in force for a key: the newest of ours that is enabled, else TF.js' original. */
function effective(k: string): tf.KernelConfig | undefined {
  const stack = installed.get(k) ?? [];
  const usable = stack.filter((c) => nativeEnabled || !nativeConfigs.has(c));
  return usable[usable.length - 1] ?? originals.get(k);
}

/** Switches between our kernels (true) and TF.js' originals (false) for one backend, e.g. to compute references. */
export function setCustomKernelsEnabled(backendName: string, enabled: boolean): void {
  for (const [k, stack] of installed) {
    const config = stack[0]!;
    if (config.backendName !== backendName) continue;
    replace(config.kernelName, backendName, enabled ? effective(k) : originals.get(k));
  }
}

/** Turns the native addon's kernels off (falling back to our wasm kernels or TF.js' own) or back on. */
export function setNativeKernelsEnabled(enabled: boolean): void {
  nativeEnabled = enabled;
  for (const [k, stack] of installed) {
    if (stack.some((c) => nativeConfigs.has(c))) replace(stack[0]!.kernelName, stack[0]!.backendName, effective(k));
  }
}

export function customKernelNames(backendName: string): string[] {
  return [...installed.values()].filter((stack) => stack[0]!.backendName === backendName).map((stack) => stack[0]!.kernelName).sort();
}

/** Kernel names currently served by the native addon for a backend. */
export function nativeKernelNames(backendName: string): string[] {
  if (!nativeEnabled) return [];
  return [...installed.values()].filter((stack) => stack[0]!.backendName === backendName && stack.some((c) => nativeConfigs.has(c))).map((stack) => stack[0]!.kernelName).sort();
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
