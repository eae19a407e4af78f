import * as tf from '@tensorflow/tfjs';
import type { Conv2DAttrs, Conv2DBackpropFilterAttrs, Conv2DBackpropInputAttrs, FusedConv2DAttrs } from '@tensorflow/tfjs-core';
import type { NativeKernels } from '../native.js';
import { conv2DBackpropFilterWasm } from './conv2d_backprop_filter_wasm.js';
import { conv2DBackpropInputWasm } from './conv2d_backprop_input_wasm.js';
import { deferKernel, worthDeferring } from './deferred.js';
import { convGeometry, heap, nativeActivation, offset, type KernelArgs } from './native_heap.js';
import { allocate, asWasm, callKernel, type Info } from './wasm_heap.js';

/**
 * Convolution and both its gradients through the native packed GEMM (native/src/conv.cc) on the wasm
 * heap's tensors: XNNPACK under wasm SIMD is limited to 128-bit vectors without FMA, the native code
 * uses the machine's full vector width. Anything outside NHWC float32 goes to the wasm kernels.
 */
const channelsLast = (dataFormat: string | undefined): boolean => dataFormat === undefined || dataFormat === 'NHWC';

export function conv2DNative(native: NativeKernels): tf.KernelConfig[] {
  const forward = (name: 'Conv2D' | 'FusedConv2D') => ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info => {
    const backend = asWasm(anyBackend);
    const { x, filter, bias, preluActivationWeights } = inputs as { x: Info; filter: Info; bias?: Info; preluActivationWeights?: Info };
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = attrs as unknown as FusedConv2DAttrs & Conv2DAttrs;
    const act = nativeActivation(activation);
    const outChannels = filter.shape[3]!;
    if (!channelsLast(dataFormat) || x.dtype !== 'float32' || act === undefined || preluActivationWeights !== undefined ||
        (bias !== undefined && tf.util.sizeFromShape(bias.shape) !== outChannels)) {
      return callKernel(backend, name, inputs, attrs);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode);
    const y = allocate(backend, info.outShape);
    native.conv2d(heap(backend), offset(backend, x), offset(backend, filter), offset(backend, y),
      bias === undefined ? -1 : offset(backend, bias), act, ...convGeometry(info));
    return y;
  };

  const backpropInput = ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info => {
    const backend = asWasm(anyBackend);
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
    if (!channelsLast(dataFormat) || dy.dtype !== 'float32') return (conv2DBackpropInputWasm.kernelFunc as (a: KernelArgs) => Info)({ inputs, backend, attrs });
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode);
    const dx = allocate(backend, [...inputShape]);
    native.conv2dBackpropInput(heap(backend), offset(backend, dy), offset(backend, filter), offset(backend, dx), ...convGeometry(info));
    return dx;
  };

  const backpropFilter = ({ inputs, backend: anyBackend, attrs }: KernelArgs): Info => {
    const backend = asWasm(anyBackend);
    const { x, dy } = inputs as { x: Info; dy: Info };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    if (!channelsLast(dataFormat) || x.dtype !== 'float32') return (conv2DBackpropFilterWasm.kernelFunc as (a: KernelArgs) => Info)({ inputs, backend, attrs });
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
    const dw = allocate(backend, [...filterShape]);
    const args = [heap(backend), offset(backend, x), offset(backend, dy), offset(backend, dw), ...convGeometry(info)] as const;
    // Only the optimizer reads a filter gradient, after the whole backward pass: at N > 1 threads an
    // idle pool thread computes it while the backward pass goes on (see deferred.ts).
    if (worthDeferring(info.batchSize * info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels * info.outChannels)) {
      deferKernel(backend, native, [dw], [x, dy], () => native.conv2dBackpropFilter(...args, 1) ?? 0);
    } else {
      native.conv2dBackpropFilter(...args);
    }
    return dw;
  };

  const config = (kernelName: string, fn: (args: KernelArgs) => Info): tf.KernelConfig =>
    ({ kernelName, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  return [
    config('Conv2D', forward('Conv2D')),
    config('FusedConv2D', forward('FusedConv2D')),
    config('Conv2DBackpropInput', backpropInput),
    config('Conv2DBackpropFilter', backpropFilter),
  ];
}
