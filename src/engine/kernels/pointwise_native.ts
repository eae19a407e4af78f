import * as tf from '@tensorflow/tfjs';
import type { MaxPoolAttrs, MaxPoolGradAttrs } from '@tensorflow/tfjs-core';
import { maxPoolGradWasm } from './max_pool_grad_wasm.js';
import { heap, offset, type KernelArgs } from './native_heap.js';
import { blockReduction, meanWasm, sumWasm } from './reduce_wasm.js';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';

/** Signatures of the addon's element-wise, broadcast and reduction kernels (native/src/pointwise.cc). */
export interface NativePointwiseKernels {
  /** x viewed as [outer, rows, cols]: out[o][c] = scale * sum over r of x[o][r][c]. */
  reduceSum(memory: ArrayBuffer, x: number, out: number, outer: number, rows: number, cols: number, scale: number): void;
  /**
   * y viewed as [outer, inner]: y[o][i] = a[o * aOuterStride + i * aInnerStride] op b[...]; op 0 add,
   * 1 sub, 2 mul, 3 div; inner strides 0 or 1.
   */
  binary(memory: ArrayBuffer, op: number, a: number, b: number, y: number, outer: number, inner: number,
    aOuterStride: number, aInnerStride: number, bOuterStride: number, bInnerStride: number): void;
  /** y = relu(x) (op 0), step(x) = x > 0 ? 1 : alpha (1), sqrt(x) (2) or x² (3), over n floats. */
  unary(memory: ArrayBuffer, op: number, x: number, y: number, n: number, alpha: number): void;
  /** NHWC; geometry: batch, inH, inW, channels, outH, outW, strideH, strideW, dilationH, dilationW, effectiveFilterH, effectiveFilterW, padTop, padLeft. */
  maxPoolGrad(memory: ArrayBuffer, x: number, dy: number, dx: number, ...geometry: number[]): void;
  /** The same geometry as maxPoolGrad. */
  maxPool(memory: ArrayBuffer, x: number, y: number, ...geometry: number[]): void;
}

type Kernel = (args: KernelArgs) => Info;
const size = (shape: readonly number[]): number => tf.util.sizeFromShape(shape as number[]);

/**
 * Sum and Mean over one contiguous block of axes, viewed as [outer, rows, cols]: the batch-norm
 * statistics and bias gradients reduce N,H,W of NHWC tensors (outer 1), softmax and losses the last
 * axis (cols 1). Other axis sets and dtypes go to our wasm kernels, which pass them on to TF.js'.
 */
function reduce(native: NativePointwiseKernels, kind: 'Sum' | 'Mean', fallback: tf.KernelConfig): Kernel {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasm(anyBackend);
    const { x } = inputs as { x: Info };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const block = blockReduction(x.shape, axis, keepDims);
    if (x.dtype !== 'float32' || block === undefined || size(x.shape) === 0) {
      return (fallback.kernelFunc as unknown as Kernel)({ inputs, backend, attrs });
    }
    const { outer, rows, cols } = block;
    const out = allocate(backend, block.outShape);
    native.reduceSum(heap(backend), offset(backend, x), offset(backend, out), outer, rows, cols, kind === 'Mean' ? 1 / rows : 1);
    return out;
  };
}

/** How an operand is read over the output viewed as [outer, inner]: element (o, i) is at o * outerStride + i * innerStride. */
interface Layout {
  outer: number;
  inner: number;
  a: [number, number];
  b: [number, number];
}

/**
 * The broadcasts the native loop covers: equal sizes; one side a scalar; one side spanning the
 * other's trailing axes (per-channel [C] or [1,1,1,C] against NHWC); one side spanning its leading axes
 * with ones after them ([N,1] against [N,K]). Anything else (both sides broadcast) is undefined.
 */
function layoutOf(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): Layout | undefined {
  const n = size(outShape);
  const full: [number, number] = [0, 1];
  const na = size(aShape);
  const nb = size(bShape);
  if (na === n && nb === n) return { outer: 1, inner: n, a: full, b: full };
  if (na !== n && nb !== n) return undefined;
  const small = na === n ? bShape : aShape;
  const padded = [...new Array<number>(outShape.length - small.length).fill(1), ...small];
  const place = (s: [number, number], outer: number, inner: number): Layout => {
    const fullAt: [number, number] = [inner, 1];
    return na === n ? { outer, inner, a: fullAt, b: s } : { outer, inner, a: s, b: fullAt };
  };
  if (size(small) === 1) return place([0, 0], 1, n);
  // Split the axes at k: the small side is 1 on one part and equal to the output on the other.
  for (let k = 0; k <= outShape.length; k++) {
    const ones = (from: number, to: number): boolean => padded.slice(from, to).every((d) => d === 1);
    const same = (from: number, to: number): boolean => padded.slice(from, to).every((d, i) => d === outShape[from + i]);
    const inner = size(outShape.slice(k));
    if (ones(0, k) && same(k, padded.length)) return place([0, 1], n / inner, inner);
    if (same(0, k) && ones(k, padded.length)) return place([1, 0], n / inner, inner);
  }
  return undefined;
}

const BINARY_OPS = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3 } as const;

function binary(native: NativePointwiseKernels, kernelName: keyof typeof BINARY_OPS): Kernel {
  const op = BINARY_OPS[kernelName];
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasm(anyBackend);
    const { a, b } = inputs as { a: Info; b: Info };
    const outShape = a.dtype === 'float32' && b.dtype === 'float32' ? tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape) : undefined;
    const layout = outShape === undefined || size(outShape) === 0 ? undefined : layoutOf(a.shape, b.shape, outShape);
    if (outShape === undefined || layout === undefined) return callKernel(backend, kernelName, inputs, attrs);
    const y = allocate(backend, outShape);
    native.binary(heap(backend), op, offset(backend, a), offset(backend, b), offset(backend, y), layout.outer, layout.inner, ...layout.a, ...layout.b);
    return y;
  };
}

const UNARY_OPS = { Relu: 0, Step: 1, Sqrt: 2, Square: 3 } as const;

/**
 * ReLU, its gradient's Step, and the Adam update's Sqrt and Square: TF.js' wasm kernels run them on
 * one thread, and on full activations they were the largest element-wise work left outside the pool.
 */
function unary(native: NativePointwiseKernels, kernelName: keyof typeof UNARY_OPS): Kernel {
  const op = UNARY_OPS[kernelName];
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasm(anyBackend);
    const { x } = inputs as { x: Info };
    if (x.dtype !== 'float32' || size(x.shape) === 0) return callKernel(backend, kernelName, inputs, attrs);
    const y = allocate(backend, x.shape);
    const alpha = kernelName === 'Step' ? (attrs as unknown as tf.StepAttrs).alpha : 0;
    native.unary(heap(backend), op, offset(backend, x), offset(backend, y), size(x.shape), alpha);
    return y;
  };
}

/** The pooling geometry argument list of the native MaxPool and MaxPoolGrad kernels. */
function poolGeometry(c: tf.backend_util.Conv2DInfo): number[] {
  return [c.batchSize, c.inHeight, c.inWidth, c.inChannels, c.outHeight, c.outWidth, c.strideHeight, c.strideWidth,
    c.dilationHeight, c.dilationWidth, c.effectiveFilterHeight, c.effectiveFilterWidth, c.padInfo.top, c.padInfo.left];
}

/**
 * TF.js' wasm MaxPool (XNNPACK, 128-bit vectors) runs on the JavaScript thread: 2 ms of a 2-thread
 * VGG16 x0.25 step. This one uses the pool and the machine's vector width.
 */
function maxPool(native: NativePointwiseKernels): Kernel {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasm(anyBackend);
    const { x } = inputs as { x: Info };
    if (x.dtype !== 'float32') return callKernel(backend, 'MaxPool', inputs, attrs);
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolAttrs;
    const c = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const y = allocate(backend, c.outShape);
    native.maxPool(heap(backend), offset(backend, x), offset(backend, y), ...poolGeometry(c));
    return y;
  };
}

function maxPoolGrad(native: NativePointwiseKernels): Kernel {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasm(anyBackend);
    const { dy, input } = inputs as { dy: Info; input: Info };
    if (input.dtype !== 'float32' || dy.dtype !== 'float32') return (maxPoolGradWasm.kernelFunc as unknown as Kernel)({ inputs, backend, attrs });
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
    const c = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const dx = allocate(backend, input.shape);
    native.maxPoolGrad(heap(backend), offset(backend, input), offset(backend, dy), offset(backend, dx), ...poolGeometry(c));
    return dx;
  };
}

/**
 * TF.js' wasm Cast copies the tensor even when the dtype does not change, which the ReLU gradient
 * does on every activation (cast(step(x), 'float32')). Tensors are immutable and buffers reference
 * counted, so the same-dtype case shares the buffer, as TF.js' CPU backend does. Not native, but
 * registered with these kernels because it is part of the same element-wise cleanup.
 */
function cast(): Kernel {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasm(anyBackend);
    const { x } = inputs as { x: Info };
    if ((attrs as unknown as tf.CastAttrs).dtype !== x.dtype) return callKernel(backend, 'Cast', inputs, attrs);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** wasm kernel configs backed by them. */
export function pointwiseNative(native: NativePointwiseKernels): tf.KernelConfig[] {
  const config = (kernelName: string, fn: Kernel): tf.KernelConfig => ({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  return [
    config('Sum', reduce(native, 'Sum', sumWasm)),
    config('Mean', reduce(native, 'Mean', meanWasm)),
    ...(Object.keys(BINARY_OPS) as (keyof typeof BINARY_OPS)[]).map((name) => config(name, binary(native, name))),
    ...(Object.keys(UNARY_OPS) as (keyof typeof UNARY_OPS)[]).map((name) => config(name, unary(native, name))),
    config('MaxPool', maxPool(native)),
    config('MaxPoolGrad', maxPoolGrad(native)),
    config('Cast', cast()),
  ];
}
