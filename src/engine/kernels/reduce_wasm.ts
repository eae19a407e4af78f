import * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, callKernel, view, type Info } from './wasm_heap.js';

/** A reduction over one contiguous block of axes, viewed as [outer, rows, cols] -> [outer, cols]. */
export interface BlockReduction {
  outer: number;
  rows: number;
  cols: number;
  outShape: number[];
}

/** The block view of reducing `axis` of `shape`, or undefined when the axes are not one contiguous block. */
export function blockReduction(shape: number[], axis: number | number[], keepDims: boolean): BlockReduction | undefined {
  const axes = tf.util.parseAxisParam(axis, shape).sort((a, b) => a - b);
  const first = axes[0] ?? 0;
  const last = axes[axes.length - 1] ?? -1;
  if (axes.length === 0 || last - first + 1 !== axes.length) return undefined;
  return {
    outer: tf.util.sizeFromShape(shape.slice(0, first)),
    rows: tf.util.sizeFromShape(shape.slice(first, last + 1)),
    cols: tf.util.sizeFromShape(shape.slice(last + 1)),
    outShape: keepDims ? shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : shape.filter((_, i) => i < first || i > last),
  };
}

/**
 * TF.js' wasm Sum and Mean only reduce innermost axes; any other axis (the batch-norm statistics and
 * bias gradients reduce N,H,W of NHWC data) first goes through its slow Transpose. Reducing one
 * contiguous block of axes is instead done in place here: out[o][c] = sum over r of x[o][r][c],
 * reading x sequentially and accumulating in float64.
 */
function reduce(kind: 'Sum' | 'Mean') {
  return ({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info => {
    const backend = asWasm(anyBackend);
    const { x } = inputs as { x: Info };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const block = blockReduction(x.shape, axis, keepDims);
    if (x.dtype !== 'float32' || block === undefined || block.cols === 1 || tf.util.sizeFromShape(x.shape) === 0) {
      return callKernel(backend, kind, inputs, attrs);
    }
    const { outer, rows, cols } = block;
    const out = allocate(backend, block.outShape, 'float32');
    const src = view(backend, x);
    const dst = view(backend, out);
    const acc = new Float64Array(cols);
    const scale = kind === 'Mean' ? 1 / rows : 1;
    for (let o = 0; o < outer; o++) {
      acc.fill(0);
      let p = o * rows * cols;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) acc[c] += src[p++];
      }
      const base = o * cols;
      for (let c = 0; c < cols; c++) dst[base + c] = acc[c] * scale;
    }
    return out;
  };
}

export const sumWasm: tf.KernelConfig = { kernelName: 'Sum', backendName: 'wasm', kernelFunc: reduce('Sum') as unknown as tf.KernelFunc };
export const meanWasm: tf.KernelConfig = { kernelName: 'Mean', backendName: 'wasm', kernelFunc: reduce('Mean') as unknown as tf.KernelFunc };
