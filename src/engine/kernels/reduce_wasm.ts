import * as tf from '@tensorflow/tfjs';
import { allocate, asWasm, callKernel, view, type Info } from './wasm_heap.js';

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
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const first = axes[0] ?? 0;
    const last = axes[axes.length - 1] ?? -1;
    const contiguous = axes.length > 0 && last - first + 1 === axes.length;
    const cols = tf.util.sizeFromShape(x.shape.slice(last + 1));
    if (x.dtype !== 'float32' || !contiguous || cols === 1 || tf.util.sizeFromShape(x.shape) === 0) {
      return callKernel(backend, kind, inputs, attrs);
    }
    const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
    const rows = tf.util.sizeFromShape(x.shape.slice(first, last + 1));
    const outShape = keepDims
      ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
      : x.shape.filter((_, i) => i < first || i > last);
    const out = allocate(backend, outShape, 'float32');
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
