import type * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';

type Typed = Float32Array | Int32Array | Uint8Array;

/**
 * Tile as block copies inside the wasm heap: each dimension is built once, then repeated by doubling
 * copyWithin calls (log2(reps) memmoves) instead of TF.js' per-element index arithmetic. The batch-norm
 * gradient tiles a [1,1,1,C] vector to the full activation shape at every layer.
 */
function tile({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { x } = inputs as { x: Info };
  const { reps } = attrs as unknown as tf.TileAttrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return callKernel(backend, 'Tile', inputs, attrs);
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = allocate(backend, outShape, x.dtype);
  const src = backend.typedArrayFromHeap(x) as Typed;
  const dst = backend.typedArrayFromHeap(out) as Typed;
  if (dst.length > 0) tileInto(src, x.shape, reps, outShape, dst);
  return out;
}

function tileInto(src: Typed, shape: number[], reps: number[], outShape: number[], dst: Typed): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const srcStride = new Array<number>(rank);
  const dstStride = new Array<number>(rank);
  srcStride[rank - 1] = 1;
  dstStride[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) {
    srcStride[d] = srcStride[d + 1] * shape[d + 1];
    dstStride[d] = dstStride[d + 1] * outShape[d + 1];
  }
  const fill = (d: number, s: number, o: number): void => {
    if (d === rank - 1) {
      dst.set(src.subarray(s, s + shape[d]) as never, o);
    } else {
      for (let i = 0; i < shape[d]; i++) fill(d + 1, s + i * srcStride[d], o + i * dstStride[d]);
    }
    const block = shape[d] * dstStride[d];
    const total = block * reps[d];
    for (let filled = block; filled < total; filled *= 2) {
      dst.copyWithin(o + filled, o, o + Math.min(filled, total - filled));
    }
  };
  fill(0, 0, 0);
}

export const tileWasm: tf.KernelConfig = {
  kernelName: 'Tile',
  backendName: 'wasm',
  kernelFunc: tile as unknown as tf.KernelFunc,
};
