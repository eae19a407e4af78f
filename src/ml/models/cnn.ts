import * as tf from '@tensorflow/tfjs';
import { type ArchitectureOptions, SeededInit, classifierHead, scaled } from './layers-util.js';

/**
 * `cnn`: a plain convolutional net (the Keras CIFAR-10 example shape).
 *
 * | block  | layers                                   | channels (width 1) |
 * |--------|------------------------------------------|--------------------|
 * | block1 | conv 3x3 same, conv 3x3 same, maxpool 2 | 32, 32             |
 * | block2 | conv 3x3 same, conv 3x3 same, maxpool 2 | 64, 64             |
 * | fc1    | flatten, dense                           | 512                |
 * | logits | dense + softmax                          | numClasses         |
 *
 * ReLU everywhere, no batch norm, no dropout (dropout would make training non-deterministic per batch).
 */
export function buildCnn(opts: ArchitectureOptions): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const input = tf.input({ shape: opts.inputShape, name: 'image' });
  let x: tf.SymbolicTensor = input;
  const blocks: [string, number][] = [['block1', 32], ['block2', 64]];
  for (const [block, channels] of blocks) {
    for (const i of [1, 2]) {
      x = tf.layers.conv2d({
        filters: scaled(channels, opts.width), kernelSize: 3, padding: 'same', activation: 'relu',
        kernelInitializer: init.he(), name: `${block}_conv${i}`,
      }).apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${block}_pool` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: scaled(512, opts.width), activation: 'relu', kernelInitializer: init.he(), name: 'fc1' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: classifierHead(x, opts.numClasses, init), name: 'cnn' });
}
