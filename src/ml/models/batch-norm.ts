import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormAvailable, fusedBatchNormTraining } from '../../engine/kernels/batch_norm_native.js';

/**
 * tfjs-layers' BatchNormalization, computing training-mode batches with bdlab's fused kernel where the
 * backend has it (wasm with the native addon): the stock layer's tf.moments + tf.batchNorm and their
 * autodiff gradient dominated ResNet34 / VGG16 steps. Everything else (inference, other axes, other
 * backends) is the stock layer's own code.
 *
 * It keeps the stock class name, config and weights, and is registered in its place for
 * deserialization, so models saved with it load in plain TF.js and saved models load into it.
 */
type LayerVariable = { read(): tf.Tensor; write(value: tf.Tensor): void };

/** The stock layer's fields this one reads (private in tfjs-layers' typings). */
interface Internals {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: LayerVariable;
  beta: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
}

type LayerArgs = Parameters<typeof tf.layers.batchNormalization>[0];
type Kwargs = Record<string, unknown>;
type StockLayer = ReturnType<typeof tf.layers.batchNormalization>;
type Constructor = (new (args?: LayerArgs) => StockLayer) & tf.serialization.SerializableConstructor<StockLayer>;

// The class is not exported by tfjs-layers; the serialization registry has it without constructing a
// layer (which would consume an automatic layer name). Read before this module registers its own.
const registered = tf.serialization.SerializationMap.getMap().classNameMap['BatchNormalization'];
if (registered === undefined) throw new Error('tfjs-layers did not register BatchNormalization');
const StockBatchNormalization = registered[0] as unknown as Constructor;

export class BatchNormalization extends StockBatchNormalization {
  static override className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as Internals;
    const input = Array.isArray(inputs) && inputs.length === 1 ? inputs[0]! : inputs;
    const axis = self.axis;
    if (kwargs['training'] !== true || Array.isArray(input) || input.rank < 2 || input.dtype !== 'float32' ||
        (axis !== -1 && axis !== input.rank - 1) || !self.scale || !self.center || !fusedBatchNormAvailable()) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      const [normed, mean, variance] = fusedBatchNormTraining(input, self.gamma.read() as tf.Tensor1D, self.beta.read() as tf.Tensor1D, self.epsilon);
      // The stock layer's moving-average update, op for op, so the moving statistics match it bit for bit.
      const decay = 1 - self.momentum;
      for (const [variable, value] of [[self.movingMean, mean], [self.movingVariance, variance]] as const) {
        tf.tidy(() => {
          const original = variable.read();
          variable.write(tf.sub(original, tf.mul(tf.sub(original, value), decay)));
        });
      }
      return normed;
    });
  }
}

tf.serialization.registerClass(BatchNormalization);

/** Drop-in for tf.layers.batchNormalization. */
export function batchNormalization(args?: LayerArgs): BatchNormalization {
  return new BatchNormalization(args);
}
