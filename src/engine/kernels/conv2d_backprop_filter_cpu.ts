import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterAttrs } from '@tensorflow/tfjs-core';
import { cpuValues, type CpuBackend } from './cpu_data.js';

/**
 * TF.js' CPU Conv2DBackpropFilter reads every element through TensorBuffer.get() (index arithmetic and
 * bounds checks per multiply). Here: one pass over the output pixels, the contiguous Co-vector of dy
 * scaled by each input value and accumulated into a float64 filter gradient.
 */
function conv2DBackpropFilter({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false,
    dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast');
  if (info.dataFormat !== 'channelsLast') throw new Error('bdlab CPU Conv2DBackpropFilter supports only NHWC data');
  const { batchSize, inHeight, inWidth, inChannels: Ci, outHeight, outWidth, outChannels: Co, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const xv = cpuValues(backend, x);
  const dyv = cpuValues(backend, dy);
  const acc = new Float64Array(filterHeight * filterWidth * Ci * Co);
  let d = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++, d += Co) {
        for (let fh = 0; fh < filterHeight; fh++) {
          const h = oh * strideHeight + fh - top;
          if (h < 0 || h >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const w = ow * strideWidth + fw - left;
            if (w < 0 || w >= inWidth) continue;
            const xOff = ((b * inHeight + h) * inWidth + w) * Ci;
            let wOff = (fh * filterWidth + fw) * Ci * Co;
            for (let ci = 0; ci < Ci; ci++, wOff += Co) {
              const v = xv[xOff + ci];
              if (v === 0) continue; // ReLU outputs are often zero
              for (let co = 0; co < Co; co++) acc[wOff + co] += v * dyv[d + co];
            }
          }
        }
      }
    }
  }
  return (backend as CpuBackend).makeTensorInfo(filterShape, 'float32', Float32Array.from(acc));
}

export const conv2DBackpropFilterCpu: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'cpu',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
