import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { Info } from './wasm_heap.js';

/**
 * Addresses of wasm-backend tensors for the native kernels. The heap's ArrayBuffer must be fetched
 * after the kernel's last allocation (an allocation may grow the memory and replace the buffer).
 */
export function heap(backend: BackendWasm): ArrayBuffer {
  return (backend as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer as ArrayBuffer;
}

export function offset(backend: BackendWasm, info: Info): number {
  return (backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(info.dataId).memoryOffset;
}

/** The geometry argument list of the native convolution kernels. */
export function convGeometry(c: tf.backend_util.Conv2DInfo): number[] {
  return [c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth, c.outChannels, c.filterHeight, c.filterWidth,
    c.strideHeight, c.strideWidth, c.dilationHeight, c.dilationWidth, c.padInfo.top, c.padInfo.left];
}

/** Activations the native kernels fuse; others make the kernel fall back to TF.js' own. */
export function nativeActivation(activation: string | undefined): number | undefined {
  return activation === undefined || activation === 'linear' ? 0 : activation === 'relu' ? 1 : activation === 'relu6' ? 2 : undefined;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
