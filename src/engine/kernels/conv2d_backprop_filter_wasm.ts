import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs } from '@tensorflow/tfjs-core';
import { asWasm, type Info } from './wasm_heap.js';
import { filterGradByConv } from './filter_grad_conv.js';
import { filterGradByGemm } from './filter_grad_gemm.js';

/**
 * TF.js 4.22 registers no Conv2DBackpropFilter for wasm at all. Two formulations, both on XNNPACK,
 * chosen per layer shape from CPU-time A/B runs over the four models' layers at batch 64: the patch
 * GEMM wins for patches short relative to the output channels (3->16 or 3->32 3x3: 2.1-2.5x; 1x1
 * shortcuts: 2.4x; 32->64 3x3: 1.25x), the dilated convolution everywhere else (LeNet's 6 and 16
 * output channels: 1.5-5x; 16->16 and 32->32 3x3: 1.6-2x; strided 3x3: 1.8x).
 */
function conv2DBackpropFilter({ inputs, backend: anyBackend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): Info {
  const backend = asWasm(anyBackend);
  const { x, dy } = inputs as { x: Info; dy: Info };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports only NHWC (channelsLast) data');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  return useGemm(info) ? filterGradByGemm(backend, x, dy, info) : filterGradByConv(backend, x, dy, info);
}

export function useGemm(info: tf.backend_util.Conv2DInfo): boolean {
  const patch = info.filterHeight * info.filterWidth * info.inChannels;
  const taps = info.filterHeight * info.filterWidth;
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  if (strided && taps > 1) return false;
  return patch <= 2 * info.outChannels || (info.outChannels >= 64 && patch <= 4.5 * info.outChannels);
}

export const conv2DBackpropFilterWasm: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
