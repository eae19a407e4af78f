import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { allocate, callKernel, release, view, type Info } from './wasm_heap.js';
import { permute } from './transpose_loop.js';

/** Largest patch matrix built at once (floats); bigger batches are processed in chunks of images. */
const PATCH_BUDGET = 8 << 20;

/**
 * dW[(fh,fw,ci), co] = Σ over pixels p of patchᵀ[(fh,fw,ci), p] · dy[p, co]: one GEMM through XNNPACK
 * (TF.js' wasm BatchMatMul fast path) per chunk of images, with the transposed patch matrix built by
 * row copies from x laid out channel-major. Best when the patch is short relative to Co (first layers,
 * 1x1 convs): building it costs FH·FW·Ci floats per pixel.
 */
export function filterGradByGemm(backend: BackendWasm, x: Info, dy: Info, info: tf.backend_util.Conv2DInfo): Info {
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw, inChannels: Ci, outChannels: Co } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rows = FH * FW * Ci;
  const pixelsPerImage = OH * OW;

  // x as [Ci, B, H, W] in JS memory: every patch row is then a run of shifted copies of one plane.
  const planes = new Float32Array(B * H * W * Ci);
  permute(view(backend, x), x.shape, [3, 0, 1, 2], planes);
  const dyValues = (): Float32Array => view(backend, dy);

  const imagesPerChunk = Math.max(1, Math.min(B, Math.floor(PATCH_BUDGET / (rows * pixelsPerImage))));
  const acc = new Float32Array(rows * Co);
  for (let b0 = 0; b0 < B; b0 += imagesPerChunk) {
    const images = Math.min(imagesPerChunk, B - b0);
    const n = images * pixelsPerImage;
    const patches = allocate(backend, [1, rows, n]);
    const whole = images === B;
    const dyChunk: Info = whole ? { dataId: dy.dataId, shape: [1, n, Co], dtype: 'float32' } : allocate(backend, [1, n, Co]);
    const p = view(backend, patches); // views only after both allocations
    if (!whole) view(backend, dyChunk).set(dyValues().subarray(b0 * pixelsPerImage * Co, (b0 + images) * pixelsPerImage * Co));
    let o = 0;
    for (let fh = 0; fh < FH; fh++) {
      for (let fw = 0; fw < FW; fw++) {
        // Output columns whose input column w = ow*sw + fw - left lies inside the image.
        const owStart = Math.min(OW, Math.max(0, Math.ceil((left - fw) / sw)));
        const owEnd = Math.max(owStart, Math.min(OW, Math.floor((W - 1 + left - fw) / sw) + 1));
        for (let ci = 0; ci < Ci; ci++) {
          for (let b = b0; b < b0 + images; b++) {
            const plane = (ci * B + b) * H * W;
            for (let oh = 0; oh < OH; oh++, o += OW) {
              const h = oh * sh + fh - top;
              if (h < 0 || h >= H) {
                for (let ow = 0; ow < OW; ow++) p[o + ow] = 0;
                continue;
              }
              // Rows are short (OW <= 32 on CIFAR): plain loops beat subarray/set/fill calls here.
              for (let ow = 0; ow < owStart; ow++) p[o + ow] = 0;
              for (let ow = owEnd; ow < OW; ow++) p[o + ow] = 0;
              const src = plane + h * W + fw - left;
              for (let ow = owStart, s = src + owStart * sw; ow < owEnd; ow++, s += sw) p[o + ow] = planes[s];
            }
          }
        }
      }
    }
    const product = callKernel(backend, 'BatchMatMul', { a: patches, b: dyChunk }, { transposeA: false, transposeB: false });
    const r = view(backend, product);
    for (let i = 0; i < acc.length; i++) acc[i] += r[i];
    release(backend, product, patches);
    if (!whole) release(backend, dyChunk);
  }
  const out = allocate(backend, [FH, FW, Ci, Co]);
  view(backend, out).set(acc);
  return out;
}

