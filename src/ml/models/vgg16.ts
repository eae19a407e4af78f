import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from './batch-norm.js';
import { type ArchitectureOptions, SeededInit, classifierHead, scaled } from './layers-util.js';

/**
 * `vgg16`: Simonyan & Zisserman 2015 configuration D with batch norm, adapted to 32x32 input.
 *
 * | block  | layers (each conv 3x3 same, BN, ReLU) | channels (width 1) | output after pool |
 * |--------|----------------------------------------|--------------------|-------------------|
 * | block1 | conv1, conv2, maxpool 2                | 64, 64             | 16x16             |
 * | block2 | conv1, conv2, maxpool 2                | 128, 128           | 8x8               |
 * | block3 | conv1..conv3, maxpool 2                | 256 x3             | 4x4               |
 * | block4 | conv1..conv3, maxpool 2                | 512 x3             | 2x2               |
 * | block5 | conv1..conv3, maxpool 2                | 512 x3             | 1x1               |
 * | fc1    | flatten, dense, ReLU                   | 512                |                   |
 * | logits | dense numClasses, softmax              |                    |                   |
 *
 * Classifier adaptation: the ImageNet head (4096-4096-1000 on 7x7) is replaced by flatten (1x1x512)
 * -> dense 512 -> dense numClasses, the usual CIFAR choice; 13 conv + 2 dense layers.
 * Convs have no bias because BN follows each.
 */
const BLOCKS: number[][] = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]];

export function buildVgg16(opts: ArchitectureOptions): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const input = tf.input({ shape: opts.inputShape, name: 'image' });
  let x: tf.SymbolicTensor = input;
  BLOCKS.forEach((convs, b) => {
    const block = `block${b + 1}`;
    convs.forEach((channels, c) => {
      const i = c + 1;
      x = tf.layers.conv2d({ filters: scaled(channels, opts.width), kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init.he(), name: `${block}_conv${i}` }).apply(x) as tf.SymbolicTensor;
      x = batchNormalization({ axis: -1, name: `${block}_bn${i}` }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU({ name: `${block}_relu${i}` }).apply(x) as tf.SymbolicTensor;
    });
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${block}_pool` }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: scaled(512, opts.width), activation: 'relu', kernelInitializer: init.he(), name: 'fc1' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: classifierHead(x, opts.numClasses, init), name: 'vgg16' });
}
