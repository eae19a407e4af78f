import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropInputAttrs } from '@tensorflow/tfjs-core';
import { allocate, asWasm, callKernel, conv2d, release, view, type Info } from './wasm_heap.js';

/**
 * dx is the convolution of dy (with stride-1 zeros inserted between its pixels when the forward stride
 * is larger) by the filter rotated 180 degrees with its in/out channels swapped. Running that through
 * XNNPACK replaces TF.js' wasm Conv2DBackpropInput, which is a plain scalar loop.
 */
function conv2DBackpropInput({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
    dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast');
  const { batchSize, inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth, inChannels, outChannels } = info;
  const top = filterHeight - 1 - info.padInfo.top;
  const left = filterWidth - 1 - info.padInfo.left;
  const spreadHeight = (outHeight - 1) * strideHeight + 1;
  const spreadWidth = (outWidth - 1) * strideWidth + 1;
  const bottom = inHeight - spreadHeight - top + filterHeight - 1;
  const right = inWidth - spreadWidth - left + filterWidth - 1;
  if (dataFormat === 'NCHW' || top < 0 || left < 0 || bottom < 0 || right < 0) {
    // Padding wider than the filter (never produced by the models we train): TF.js' own loop is correct there.
    return callKernel(backend, 'Conv2DBackpropInput', inputs, attrs);
  }

  const rotated = allocate(backend, [filterHeight, filterWidth, outChannels, inChannels]);
  const spread = strideHeight === 1 && strideWidth === 1 ? dy : allocate(backend, [batchSize, spreadHeight, spreadWidth, outChannels]);
  {
    const w = view(backend, filter);
    const r = view(backend, rotated);
    for (let fh = 0; fh < filterHeight; fh++) {
      for (let fw = 0; fw < filterWidth; fw++) {
        const src = ((filterHeight - 1 - fh) * filterWidth + (filterWidth - 1 - fw)) * inChannels * outChannels;
        const dst = (fh * filterWidth + fw) * outChannels * inChannels;
        for (let ci = 0; ci < inChannels; ci++) {
          for (let co = 0; co < outChannels; co++) r[dst + co * inChannels + ci] = w[src + ci * outChannels + co];
        }
      }
    }
    if (spread !== dy) {
      const d = view(backend, dy);
      const s = view(backend, spread);
      s.fill(0);
      let i = 0;
      for (let b = 0; b < batchSize; b++) {
        for (let oh = 0; oh < outHeight; oh++) {
          let o = ((b * spreadHeight + oh * strideHeight) * spreadWidth) * outChannels;
          for (let ow = 0; ow < outWidth; ow++, o += strideWidth * outChannels) {
            for (let c = 0; c < outChannels; c++) s[o + c] = d[i++];
          }
        }
      }
    }
  }
  const dx = conv2d(backend, spread, rotated, { top, bottom, left, right }, [1, 1]);
  release(backend, rotated);
  if (spread !== dy) release(backend, spread);
  return dx;
}

export const conv2DBackpropInputWasm: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
