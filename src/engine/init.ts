import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { BackendPreference } from './preference.js';
import { cpuKernels, nativeWasmKernels, wasmKernels } from './kernels/index.js';
import { loadNativeKernels } from './native.js';
import { shareSavedTensors } from './saved-tensors.js';
import { customKernelNames, installKernels, nativeKernelNames, setUpReplacedOriginals } from './registry.js';
import { applyEngineThreads } from './threads.js';

export interface BackendInfo {
  name: 'tensorflow' | 'wasm' | 'cpu';
  preference: BackendPreference;
  versions: Record<string, string>;
  /** Threads of the heavy kernels: the native pool's size when the addon serves them, else the backend's own. */
  threads: number;
  customKernels: string[];
  /** Those of customKernels served by the native addon (native/), empty when it is not built. */
  nativeKernels: string[];
}

type BackendName = BackendInfo['name'];

let active: { preference: BackendPreference; info: BackendInfo } | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Selects and initializes the TF.js backend for this process. 'auto' tries tfjs-node, then WebAssembly with
 * bdlab's training kernels, then the pure-JS CPU backend. Calling it again with the same preference returns
 * the same info without doing anything; concurrent calls are serialized.
 */
export function initEngine(preference: BackendPreference = 'auto'): Promise<BackendInfo> {
  const next = queue.then(() => select(preference));
  queue = next.catch(() => undefined);
  return next;
}

async function select(preference: BackendPreference): Promise<BackendInfo> {
  if (active !== undefined && active.preference === preference && tf.getBackend() === active.info.name) {
    return active.info;
  }
  // Production mode silences TF.js' console chatter, notably the "install tfjs-node" banner the CPU
  // backend prints on first use, which would otherwise land in the user's terminal.
  tf.enableProdMode();
  const candidates: BackendName[] =
    preference === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [preference === 'node' ? 'tensorflow' : preference];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      const versions = await activate(name);
      const info: BackendInfo = { name, preference, versions, threads: await threadCount(name), customKernels: customKernelNames(name), nativeKernels: nativeKernelNames(name) };
      active = { preference, info };
      return info;
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(
    `Could not initialize the TF.js backend "${preference}" (${failures.join('; ')}). ` +
      (preference === 'node'
        ? 'The node backend needs @tensorflow/tfjs-node, which downloads libtensorflow when installed; use --backend auto or wasm instead.'
        : 'Use --backend auto, wasm or cpu.'),
  );
}

/** Loads the backend's package, registers our kernels for it and makes it current; returns package versions. */
async function activate(name: BackendName): Promise<Record<string, string>> {
  const versions: Record<string, string> = {
    tfjs: tf.version.tfjs,
    'tfjs-core': tf.version['tfjs-core'],
    'tfjs-layers': tf.version['tfjs-layers'],
  };
  if (name === 'tensorflow') {
    // A variable specifier keeps TypeScript from requiring the optional package's types at build time.
    const specifier = '@tensorflow/tfjs-node';
    const tfNode = (await import(specifier)) as { version?: Record<string, string> };
    versions['tfjs-node'] = tfNode.version?.['tfjs-node'] ?? 'unknown';
  } else if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    versions['tfjs-backend-wasm'] = wasm.version_wasm;
    installKernels(wasmKernels);
    // Native kernels, when the addon was built for this machine, take over the heavy operations.
    const native = loadNativeKernels();
    if (native.loaded) {
      applyEngineThreads();
      installKernels(nativeWasmKernels(native.kernels), { native: true });
      versions['bdlab-native'] = native.kernels.isa;
    } else {
      versions['bdlab-native'] = `none (${native.reason})`;
    }
  } else {
    versions['tfjs-backend-cpu'] = tf.version['tfjs-backend-cpu'];
    installKernels(cpuKernels);
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend "${name}" failed to initialize`);
  await tf.ready();
  // Our backends count buffer references; tfjs-node's saved tensors stay TF.js' own clones.
  shareSavedTensors(name !== 'tensorflow');
  setUpReplacedOriginals(name);
  return versions;
}

async function threadCount(name: BackendName): Promise<number> {
  if (name === 'wasm' && loadNativeKernels().loaded) return applyEngineThreads();
  if (name === 'wasm') return (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
  if (name === 'tensorflow') return availableParallelism();
  return 1;
}
