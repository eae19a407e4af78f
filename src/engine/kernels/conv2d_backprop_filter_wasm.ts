import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs } from '@tensorflow/tfjs-core';
import { allocate, asWasm, conv2d, release, view, type Info } from './wasm_heap.js';
import { transposeInfo } from './transpose_wasm.js';

/**
 * dW[fh,fw,ci,co] = sum over b,oh,ow of x[b, oh*s+fh-padTop, ow*s+fw-padLeft, ci] * dy[b,oh,ow,co]
 * is itself a convolution: input x viewed as [Ci,H,W,B] (batch Ci, channels B), "filter" dy viewed as
 * [OH,OW,B,Co], dilation = the forward stride, stride 1. XNNPACK then does the heavy lifting.
 * (TF.js 4.22 registers no Conv2DBackpropFilter for wasm at all.)
 */
function conv2DBackpropFilter({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { x, dy } = inputs as { x: Info; dy: Info };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports only NHWC (channelsLast) data');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, inChannels, outChannels } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const bottom = Math.max(0, filterHeight + (outHeight - 1) * strideHeight - inHeight - top);
  const right = Math.max(0, filterWidth + (outWidth - 1) * strideWidth - inWidth - left);

  const xT = transposeInfo(backend, x, [3, 1, 2, 0]);
  const dyT = transposeInfo(backend, dy, [1, 2, 0, 3]);
  const r = conv2d(backend, xT, dyT, { top, bottom, left, right }, [strideHeight, strideWidth]);
  release(backend, xT, dyT);

  // r is [Ci, FH', FW', Co] with FH' >= FH; keep the first FH x FW taps and move Ci after them.
  const out = allocate(backend, [filterHeight, filterWidth, inChannels, outChannels]);
  const [, rh, rw] = r.shape as [number, number, number, number];
  const src = view(backend, r);
  const dst = view(backend, out);
  const co = outChannels;
  let o = 0;
  for (let fh = 0; fh < filterHeight; fh++) {
    for (let fw = 0; fw < filterWidth; fw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        const s = ((ci * rh + fh) * rw + fw) * co;
        for (let c = 0; c < co; c++) dst[o++] = src[s + c];
      }
    }
  }
  release(backend, r);
  return out;
}

export const conv2DBackpropFilterWasm: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
