import type * as tf from '@tensorflow/tfjs';

/**
 * Shared by the wasm and CPU MaxPoolGrad kernels. For every output pixel and channel the window is
 * scanned for its first maximum in row-major order (strict '>', TF.js' CPU tie rule, which matters after
 * ReLU where windows of zeros tie), and dy is added to dx there.
 */
export function maxPoolGradInto(info: tf.backend_util.Conv2DInfo, x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, effectiveFilterHeight, effectiveFilterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowStride = inWidth * C;
  dx.fill(0);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const xb = b * inHeight * rowStride;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      // First and one-past-last window rows inside the image, on the dilation grid.
      const fh0 = h0 >= 0 ? 0 : Math.ceil(-h0 / dilationHeight) * dilationHeight;
      const fh1 = Math.min(effectiveFilterHeight, inHeight - h0);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        const fw0 = w0 >= 0 ? 0 : Math.ceil(-w0 / dilationWidth) * dilationWidth;
        const fw1 = Math.min(effectiveFilterWidth, inWidth - w0);
        const pixel = xb + h0 * rowStride + w0 * C;
        for (let c = 0; c < C; c++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let fh = fh0; fh < fh1; fh += dilationHeight) {
            const row = pixel + fh * rowStride + c;
            for (let fw = fw0; fw < fw1; fw += dilationWidth) {
              const i = row + fw * C;
              const v = x[i];
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] = dx[at] + dy[o];
        }
      }
    }
  }
}
