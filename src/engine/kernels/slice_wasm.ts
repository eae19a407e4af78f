import * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';

type Typed = Float32Array | Int32Array | Uint8Array;

/**
 * TF.js' wasm Slice first copies the *whole* input out of the heap (readSync) to copy a part of it back.
 * model.predict slices every batch out of the full image tensor that way: evaluating 10,000 CIFAR images
 * in batches of 64 copied ~19 GB. Here the slice is copied straight from heap to heap, run by run.
 */
function slice({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { x } = inputs as { x: Info };
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') return callKernel(backend, 'Slice', inputs, attrs);
  const [start, extent] = tf.slice_util.parseSliceParams(x, begin, size);
  const out = allocate(backend, extent, x.dtype);
  if (extent.some((d) => d === 0)) return out;
  const src = backend.typedArrayFromHeap(x) as Typed;
  const dst = backend.typedArrayFromHeap(out) as Typed;
  copySlice(src, x.shape, start, extent, dst);
  return out;
}

function copySlice(src: Typed, shape: number[], start: number[], extent: number[], dst: Typed): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // Innermost dims taken whole merge into one contiguous run.
  let inner = rank - 1;
  let run = extent[inner];
  while (inner > 0 && extent[inner] === shape[inner] && start[inner] === 0) {
    inner--;
    run *= extent[inner];
  }
  let base = 0;
  for (let d = 0; d < rank; d++) base += start[d] * strides[d];
  const index = new Array<number>(inner).fill(0);
  let o = 0;
  for (;;) {
    dst.set(src.subarray(base, base + run) as never, o);
    o += run;
    let d = inner - 1;
    for (; d >= 0; d--) {
      index[d]++;
      base += strides[d];
      if (index[d] < extent[d]) break;
      base -= strides[d] * extent[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

export const sliceWasm: tf.KernelConfig = {
  kernelName: 'Slice',
  backendName: 'wasm',
  kernelFunc: slice as unknown as tf.KernelFunc,
};
