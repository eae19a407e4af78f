import * as tf from '@tensorflow/tfjs';

/**
 * An inference copy of a trained model in which every Conv2D followed only by a BatchNormalization
 * (channels last) carries that normalization in its own weights, and a ReLU after the normalization
 * becomes the convolution's activation:
 *
 *   scale = gamma / sqrt(movingVariance + epsilon)
 *   kernel' = kernel * scale (per output channel),  bias' = beta + (bias - movingMean) * scale
 *
 * which is what BatchNormalization computes at inference, so predictions agree to rounding (~1e-6).
 * Each folded triple becomes one fused convolution kernel call instead of three passes over the
 * activations: batch norm and ReLU were 17 % of ResNet34's inference time. Every other layer is shared
 * with `model`, so the copy costs only the folded convolutions' weights; dispose the copy, then the
 * model (shared layers are reference-counted). Returns `model` itself when there is nothing to fold.
 * Training must use the original: the copy has no batch statistics.
 */
export function foldBatchNorm(model: tf.LayersModel): tf.LayersModel {
  const plans = foldPlans(model);
  if (plans.size === 0) return model;

  const mapped = new Map<tf.SymbolicTensor, tf.SymbolicTensor>();
  for (const input of model.inputs) mapped.set(input, input);
  const skipped = new Set<tf.layers.Layer>();
  const created: { layer: tf.layers.Layer; plan: FoldPlan }[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer' || skipped.has(layer)) continue;
    const inputs = inboundTensors(layer).map((t) => {
      const m = mapped.get(t);
      if (m === undefined) throw new Error(`foldBatchNorm: layer ${layer.name} reads a tensor not computed before it`);
      return m;
    });
    const plan = plans.get(layer);
    if (plan === undefined) {
      const outputs = layer.apply(inputs.length === 1 ? inputs[0]! : inputs) as tf.SymbolicTensor | tf.SymbolicTensor[];
      mapTensors(mapped, layer.getOutputAt(0) as tf.SymbolicTensor | tf.SymbolicTensor[], outputs);
      continue;
    }
    // Same geometry and name as the trained convolution; weights are set once the layer is built.
    const folded = tf.layers.conv2d({
      ...(layer.getConfig() as object),
      useBias: true,
      activation: plan.relu === undefined ? 'linear' : 'relu',
      kernelInitializer: 'zeros',
      biasInitializer: 'zeros',
      kernelRegularizer: undefined,
      biasRegularizer: undefined,
      activityRegularizer: undefined,
      kernelConstraint: undefined,
      biasConstraint: undefined,
    } as Parameters<typeof tf.layers.conv2d>[0]);
    const out = folded.apply(inputs[0]!) as tf.SymbolicTensor;
    const last = plan.relu ?? plan.norm;
    mapped.set(last.getOutputAt(0) as tf.SymbolicTensor, out);
    skipped.add(plan.norm);
    if (plan.relu) skipped.add(plan.relu);
    created.push({ layer: folded, plan });
  }
  const outputs = model.outputs.map((t) => {
    const m = mapped.get(t);
    if (m === undefined) throw new Error('foldBatchNorm: a model output was not rebuilt');
    return m;
  });
  const copy = tf.model({ inputs: model.inputs, outputs, name: `${model.name}_inference` });
  for (const { layer, plan } of created) {
    const weights = foldedWeights(plan);
    layer.setWeights(weights); // copies into the layer's variables
    tf.dispose(weights);
  }
  return copy;
}

interface FoldPlan {
  conv: tf.layers.Layer;
  norm: tf.layers.Layer;
  relu?: tf.layers.Layer;
}

/** Conv2D layers whose only consumer is a channels-last BatchNormalization, keyed by the conv layer. */
function foldPlans(model: tf.LayersModel): Map<tf.layers.Layer, FoldPlan> {
  const consumers = new Map<tf.layers.Layer, tf.layers.Layer[]>();
  for (const layer of model.layers) {
    for (const t of inboundTensors(layer)) {
      const list = consumers.get(t.sourceLayer as tf.layers.Layer) ?? [];
      list.push(layer);
      consumers.set(t.sourceLayer as tf.layers.Layer, list);
    }
  }
  const isOutput = (layer: tf.layers.Layer): boolean => model.outputs.some((t) => t.sourceLayer === layer);
  const only = (layer: tf.layers.Layer): tf.layers.Layer | undefined => {
    const list = consumers.get(layer) ?? [];
    return list.length === 1 && !isOutput(layer) ? list[0] : undefined;
  };
  const plans = new Map<tf.layers.Layer, FoldPlan>();
  for (const conv of model.layers) {
    if (conv.getClassName() !== 'Conv2D' || conv.inboundNodes.length !== 1) continue;
    const convConfig = conv.getConfig() as { dataFormat?: string; activation?: string };
    if ((convConfig.dataFormat ?? 'channelsLast') !== 'channelsLast' || (convConfig.activation ?? 'linear') !== 'linear') continue;
    const norm = only(conv);
    if (norm === undefined || norm.getClassName() !== 'BatchNormalization' || norm.inboundNodes.length !== 1) continue;
    const axis = (norm.getConfig() as { axis?: number }).axis ?? -1;
    if (axis !== -1 && axis !== 3) continue;
    const next = only(norm);
    const relu = next !== undefined && next.getClassName() === 'ReLU' && next.inboundNodes.length === 1 && isPlainRelu(next) ? next : undefined;
    plans.set(conv, { conv, norm, ...(relu ? { relu } : {}) });
  }
  return plans;
}

function isPlainRelu(layer: tf.layers.Layer): boolean {
  const config = layer.getConfig() as { maxValue?: number | null };
  return config.maxValue === undefined || config.maxValue === null;
}

/** The inputs of the layer's call in the original model (applying it in the copy adds a second node). */
function inboundTensors(layer: tf.layers.Layer): tf.SymbolicTensor[] {
  return layer.inboundNodes[0]?.inputTensors ?? [];
}

function mapTensors(mapped: Map<tf.SymbolicTensor, tf.SymbolicTensor>, from: tf.SymbolicTensor | tf.SymbolicTensor[], to: tf.SymbolicTensor | tf.SymbolicTensor[]): void {
  const a = Array.isArray(from) ? from : [from];
  const b = Array.isArray(to) ? to : [to];
  a.forEach((t, i) => mapped.set(t, b[i]!));
}

/** [kernel', bias'] for a plan, computed in float64 from the trained weights. */
function foldedWeights(plan: FoldPlan): tf.Tensor[] {
  const convWeights = plan.conv.getWeights();
  const kernel = convWeights[0]!;
  const convBias = convWeights[1];
  const normConfig = plan.norm.getConfig() as { scale?: boolean; center?: boolean; epsilon?: number };
  const normWeights = plan.norm.getWeights();
  let i = 0;
  const gamma = normConfig.scale !== false ? normWeights[i++]!.dataSync() : undefined;
  const beta = normConfig.center !== false ? normWeights[i++]!.dataSync() : undefined;
  const mean = normWeights[i++]!.dataSync();
  const variance = normWeights[i++]!.dataSync();
  const epsilon = normConfig.epsilon ?? 1e-3;
  const channels = kernel.shape[3]!;
  const scale = new Float64Array(channels);
  const bias = new Float32Array(channels);
  const b0 = convBias?.dataSync();
  for (let c = 0; c < channels; c++) {
    scale[c] = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + epsilon);
    bias[c] = (beta ? beta[c]! : 0) + ((b0 ? b0[c]! : 0) - mean[c]!) * scale[c]!;
  }
  const k = kernel.dataSync();
  const folded = new Float32Array(k.length);
  for (let j = 0; j < k.length; j++) folded[j] = k[j]! * scale[j % channels]!;
  return [tf.tensor(folded, kernel.shape), tf.tensor1d(bias)];
}
