import * as tf from '@tensorflow/tfjs';
import { type ArchitectureOptions, SeededInit, classifierHead, scaled } from './layers-util.js';

/**
 * `lenet5`: LeCun et al. 1998 adapted to 32x32x3 input, ReLU instead of tanh, max pooling.
 *
 * | layer  | op                    | output (width 1)  | parameters        |
 * |--------|-----------------------|-------------------|-------------------|
 * | conv1  | 6 filters 5x5 valid   | 28x28x6           | 5*5*3*6+6 = 456   |
 * | pool1  | maxpool 2             | 14x14x6           | 0                 |
 * | conv2  | 16 filters 5x5 valid  | 10x10x16          | 5*5*6*16+16 = 2416|
 * | pool2  | maxpool 2             | 5x5x16 = 400      | 0                 |
 * | fc1    | dense 120             | 120               | 400*120+120=48120 |
 * | fc2    | dense 84              | 84                | 120*84+84 = 10164 |
 * | logits | dense 10 + softmax    | 10                | 84*10+10 = 850    |
 *
 * Total 62,006 parameters for 10 classes at width 1.
 */
export function buildLenet5(opts: ArchitectureOptions): tf.LayersModel {
  const init = new SeededInit(opts.seed);
  const input = tf.input({ shape: opts.inputShape, name: 'image' });
  let x: tf.SymbolicTensor = input;
  x = tf.layers.conv2d({ filters: scaled(6, opts.width), kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: init.he(), name: 'conv1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: scaled(16, opts.width), kernelSize: 5, padding: 'valid', activation: 'relu', kernelInitializer: init.he(), name: 'conv2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'pool2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: scaled(120, opts.width), activation: 'relu', kernelInitializer: init.he(), name: 'fc1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: scaled(84, opts.width), activation: 'relu', kernelInitializer: init.he(), name: 'fc2' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: classifierHead(x, opts.numClasses, init), name: 'lenet5' });
}
