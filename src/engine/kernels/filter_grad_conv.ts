import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, asWasm, conv2d, release, view, type Info } from './wasm_heap.js';
import { transposeInfo } from './transpose_wasm.js';

/**
 * dW[fh,fw,ci,co] = sum over b,oh,ow of x[b, oh*s+fh-padTop, ow*s+fw-padLeft, ci] * dy[b,oh,ow,co]
 * is itself a convolution: input x viewed as [Ci,H,W,B] (batch Ci, channels B), "filter" dy viewed as
 * [OH,OW,B,Co], dilation = the forward stride, stride 1, run by XNNPACK. Its cost beyond the
 * multiply-adds is XNNPACK repacking that large "filter" on every call (about N·Co floats).
 */
export function filterGradByConv(backend: BackendWasm, x: Info, dy: Info, info: tf.backend_util.Conv2DInfo): Info {
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
