import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../common/paths.js';
import type { NativeBatchNormInferenceKernels } from './kernels/batch_norm_inference_native.js';
import type { NativeBatchNormKernels } from './kernels/batch_norm_native.js';
import type { NativePointwiseKernels } from './kernels/pointwise_native.js';
import type { NativeOptimizerKernels } from './fused-adam.js';

/**
 * bdlab's native kernels (native/src, a Node-API addon compiled for this machine by `npm ci`, see
 * scripts/build-native.mjs). They work on tensors in any ArrayBuffer, in practice the WebAssembly
 * backend's heap: arguments are the buffer, byte offsets of the tensors in it, and shape integers.
 * The addon checks every tensor against the buffer's length and throws instead of touching memory
 * outside it.
 */
export type NativeKernels = NativeGemmKernels & NativePointwiseKernels & NativeBatchNormKernels & NativeBatchNormInferenceKernels & NativeOptimizerKernels;

/** Convolutions and matrix multiplies (native/src/conv.cc, matmul.cc). */
export interface NativeGemmKernels {
  /** The instruction set the addon was compiled for: avx512, avx2, avx or generic. */
  readonly isa: string;
  /**
   * Sets the threads later kernels use, the calling one included (native/src/parallel.h).
   * splitEverything (tests only): split even the smallest shapes, to reach every chunk boundary.
   */
  setThreads(threads: number, splitEverything?: number): void;
  conv2d(memory: ArrayBuffer, x: number, filter: number, y: number, bias: number, activation: number, ...geometry: number[]): void;
  conv2dBackpropInput(memory: ArrayBuffer, dy: number, filter: number, dx: number, ...geometry: number[]): void;
  /** With a trailing 1 (deferred), queues the gradient on the pool and returns its task id (0: it ran at once), see kernels/deferred.ts. */
  conv2dBackpropFilter(memory: ArrayBuffer, x: number, dy: number, dfilter: number, ...geometryAndDeferred: number[]): number | undefined;
  /** Waits for every deferred kernel (rethrowing the first failure). */
  waitForDeferred(): void;
  /** Every deferred kernel with a smaller id has finished. */
  deferredFinishedBelow(): number;
  matmul(memory: ArrayBuffer, a: number, b: number, c: number, batchA: number, batchB: number, m: number, n: number, k: number,
    transposeA: number, transposeB: number, bias: number, activation: number): void;
}

export type NativeStatus = { loaded: true; kernels: NativeKernels } | { loaded: false; reason: string };

let status: NativeStatus | undefined;

/** Where the addon is: native/build/Release, or BDLAB_NATIVE_ADDON (a build elsewhere, for development). */
export function nativeAddonPath(): string {
  return process.env['BDLAB_NATIVE_ADDON'] || join(packageRoot(), 'native', 'build', 'Release', 'bdlab_kernels.node');
}

/** Loads the addon once. BDLAB_NATIVE=0 turns it off (e.g. to compare against the pure wasm kernels). */
export function loadNativeKernels(): NativeStatus {
  if (status !== undefined) return status;
  const path = nativeAddonPath();
  if (process.env['BDLAB_NATIVE'] === '0') {
    status = { loaded: false, reason: 'disabled by BDLAB_NATIVE=0' };
  } else if (!existsSync(path)) {
    status = { loaded: false, reason: 'not built (npm run build:native needs g++ and make)' };
  } else {
    try {
      status = { loaded: true, kernels: createRequire(import.meta.url)(path) as NativeKernels };
    } catch (error) {
      status = { loaded: false, reason: `failed to load: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
    }
  }
  return status;
}
