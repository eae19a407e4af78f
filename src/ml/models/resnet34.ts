import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from './batch-norm.js';
import { type ArchitectureOptions, SeededInit, classifierHead, scaled } from './layers-util.js';

/**
 * `resnet34`: He et al. 2016, CIFAR variant (as in the common PyTorch CIFAR ports).
 *
 * | part    | layers                                                    | channels (width 1) | output   |
 * |---------|-----------------------------------------------------------|--------------------|----------|
 * | stem    | conv 3x3 stride 1, BN, ReLU (no max pool: input is 32x32) | 64                 | 32x32    |
 * | stage1  | 3 basic blocks                                            | 64                 | 32x32    |
 * | stage2  | 4 basic blocks, first with stride 2                       | 128                | 16x16    |
 * | stage3  | 6 basic blocks, first with stride 2                       | 256                | 8x8      |
 * | stage4  | 3 basic blocks, first with stride 2                       | 512                | 4x4      |
 * | head    | global average pool, dense numClasses, softmax            |                    |          |
 *
 * Basic block: conv3x3-BN-ReLU-conv3x3-BN, plus shortcut, then ReLU. The shortcut is the identity,
 * or a 1x1 strided conv + BN (projection) where stride or channel count changes.
 * Convs have no bias (BN's beta plays that role). 33 conv layers in the residual path + the dense = 34.
 */
const STAGES: { blocks: number; channels: number; stride: number }[] = [
  { blocks: 3, channels: 64, stride: 1 },
  { blocks: 4, channels: 128, stride: 2 },
  { blocks: 6, channels: 256, stride: 2 },
  { blocks: 3, channels: 512, stride: 2 },
];

function convBn(x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number, name: string, bnName: string, init: SeededInit): tf.SymbolicTensor {
  const conv = tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init.he(), name }).apply(x) as tf.SymbolicTensor;
  return batchNormalization({ axis: -1, name: bnName }).apply(conv) as tf.SymbolicTensor;
}

function basicBlock(x: tf.SymbolicTensor, inChannels: number, channels: number, stride: number, prefix: string, init: SeededInit): tf.SymbolicTensor {
  let y = convBn(x, channels, 3, stride, `${prefix}_conv1`, `${prefix}_bn1`, init);
  y = tf.layers.reLU({ name: `${prefix}_relu1` }).apply(y) as tf.SymbolicTensor;
  y = convBn(y, channels, 3, 1, `${prefix}_conv2`, `${prefix}_bn2`, init);
  const shortcut = stride !== 1 || inChannels !== channels
    ? convBn(x, channels, 1, stride, `${prefix}_shortcut_conv`, `${prefix}_shortcut_bn`, init)
    : x;
  const sum = tf.layers.add({ name: `${prefix}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${prefix}_out` }).apply(sum) as tf.SymbolicTensor;
}

export function buildResnet34(opts: ArchitectureOptions): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const input = tf.input({ shape: opts.inputShape, name: 'image' });
  let channels = scaled(64, opts.width);
  let x = convBn(input, channels, 3, 1, 'stem_conv', 'stem_bn', init);
  x = tf.layers.reLU({ name: 'stem_relu' }).apply(x) as tf.SymbolicTensor;
  STAGES.forEach((stage, s) => {
    const out = scaled(stage.channels, opts.width);
    for (let b = 0; b < stage.blocks; b++) {
      x = basicBlock(x, channels, out, b === 0 ? stage.stride : 1, `stage${s + 1}_block${b + 1}`, init);
      channels = out;
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: classifierHead(x, opts.numClasses, init), name: 'resnet34' });
}
