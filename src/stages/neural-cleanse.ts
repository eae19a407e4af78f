import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { TriggerSpec } from '../ml/artifacts.js';
import { readDatasetInfo, readSplit } from '../ml/dataset.js';
import { anomalyReport } from '../ml/defence/anomaly.js';
import { logitsModel, reverseTrigger, triggerAttackSuccess, type ReversedTrigger } from '../ml/defence/neural-cleanse.js';
import { loadModel } from '../ml/model-io.js';
import { renderImageGrid, type GridTile } from '../ml/png.js';
import { StageError, type StageContext, type StageInput } from '../common/stage-contract.js';
import { startEngine } from './engine-setup.js';
import { defineStage } from './params.js';
import { firstImages } from './train.js';

/** What unlearn reads from a neural-cleanse output. */
export const TRIGGERS_FILE = 'triggers.json';

export interface TriggersFile {
  height: number;
  width: number;
  channels: number;
  flagged: number[];
  /** Per class: mask [H*W] and pattern [H*W*C], both in [0,1]. */
  triggers: { target: number; norm: number; mask: number[]; pattern: number[] }[];
}

function soleInput(ctx: StageContext, file: string, what: string): StageInput {
  const matches = ctx.inputs.filter((i) => existsSync(join(i.dir, file)));
  if (matches.length === 1) return matches[0]!;
  throw new StageError(
    `${ctx.id}: neural-cleanse needs exactly one ${what} input (holding ${file}) but has ${matches.length} among ` +
      `${ctx.inputs.map((i) => `${i.id} (${i.kind})`).join(', ') || 'no inputs'}. List one model stage (train, transfer-retrain, unlearn) and one fetch or poison stage under needs.`,
  );
}

/** The all-to-one target a poison input planted, when there is one: reported next to the verdict. */
async function knownTarget(dir: string): Promise<number | null> {
  const file = join(dir, 'trigger.json');
  if (!existsSync(file)) return null;
  const spec = JSON.parse(await readFile(file, 'utf8')) as TriggerSpec;
  return spec.mode === 'all-to-one' && spec.rate > 0 && spec.target !== undefined ? spec.target : null;
}

function csv(rows: (string | number | boolean)[][]): string {
  return rows.map((r) => r.join(',')).join('\n') + '\n';
}

const round = (v: number): number => Number(v.toFixed(6));

/** Per class, top: the mask in grey (scaled to its own maximum, so a faint one-pixel mask shows); bottom: mask x pattern. */
function maskGrid(triggers: ReversedTrigger[], height: number, width: number, channels: number): Buffer {
  const masks: GridTile[] = triggers.map((t) => {
    const peak = Math.max(...t.mask, 1e-12);
    const pixels = new Uint8Array(height * width * 3);
    t.mask.forEach((m, p) => pixels.fill(Math.round((255 * m) / peak), 3 * p, 3 * p + 3));
    return { pixels, height, width, channels: 3 };
  });
  const stamps: GridTile[] = triggers.map((t) => {
    const pixels = new Uint8Array(height * width * channels);
    for (let p = 0; p < height * width; p++) {
      for (let c = 0; c < channels; c++) pixels[p * channels + c] = Math.round(255 * t.mask[p]! * t.pattern[p * channels + c]!);
    }
    return { pixels, height, width, channels };
  });
  return renderImageGrid([...masks, ...stamps], triggers.length, 4, 4);
}

const stage = defineStage('neural-cleanse')({
  async run(params, ctx) {
    const modelIn = soleInput(ctx, join('model', 'model.json'), 'model');
    const dataIn = soleInput(ctx, 'dataset.json', 'dataset');
    await startEngine(ctx);
    const info = await readDatasetInfo(dataIn.dir);
    if (!info.splits.test) throw new StageError(`${ctx.id}: dataset ${dataIn.id} has no test split (Neural Cleanse optimises on clean test images).`);
    const images = firstImages(await readSplit(dataIn.dir, 'test'), params.images);
    const numClasses = info.classes.length;
    let model: tf.LayersModel;
    try {
      model = await loadModel(join(modelIn.dir, 'model'));
    } catch (error) {
      throw new StageError(`${ctx.id}: cannot load the model of ${modelIn.id}: ${(error as Error).message}.`);
    }
    const net = logitsModel(model);
    ctx.log(`reversing a trigger for each of ${numClasses} classes on ${images.count} clean test images of ${dataIn.id}, model ${modelIn.id}`);

    const started = Date.now();
    const triggers: (ReversedTrigger & { attackSuccess: number })[] = [];
    for (let target = 0; target < numClasses; target++) {
      const reversed = await reverseTrigger(net, images, target, {
        steps: params.steps, batchSize: params.batch_size, learningRate: params.learning_rate, initialCost: params.initial_cost,
        attackThreshold: params.attack_threshold, patience: params.patience, costMultiplier: params.cost_multiplier,
        earlyStop: params.early_stop, earlyStopPatience: params.early_stop_patience, seed: params.seed, signal: ctx.signal,
        onProgress: (p) => ctx.progress({
          message: `class ${p.target + 1}/${numClasses} step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} mask L1 ${p.maskNorm.toFixed(2)} attack ${(100 * p.attackSuccess).toFixed(1)}%`,
          fraction: (p.target + p.step / p.steps) / numClasses,
          values: { class: p.target, step: p.step, loss: p.loss, maskNorm: p.maskNorm, attackSuccess: p.attackSuccess, cost: p.cost },
        }),
      });
      const attackSuccess = await triggerAttackSuccess(net, images, reversed, params.batch_size);
      triggers.push({ ...reversed, attackSuccess });
      ctx.log(`class ${target} (${info.classes[target]}): mask L1 ${reversed.norm.toFixed(3)}, attack success ${(100 * attackSuccess).toFixed(1)}% after ${reversed.steps} steps` +
        (reversed.reachedThreshold ? '' : ` (never reached ${100 * params.attack_threshold}%)`));
    }
    model.dispose(); // `net` shares its layers and weights

    const report = anomalyReport(triggers.map((t) => t.norm), params.anomaly_threshold);
    const target = await knownTarget(dataIn.dir);
    const verdict = report.flagged.length > 0 ? 'backdoored' : 'clean';
    const perClass = triggers.map((t, k) => ({
      class: k, name: info.classes[k]!, maskNorm: round(t.norm), attackSuccess: round(t.attackSuccess),
      anomalyIndex: Number.isFinite(report.anomalyIndex[k]!) ? round(report.anomalyIndex[k]!) : null,
      flagged: report.flagged.includes(k), reachedThreshold: t.reachedThreshold, steps: t.steps,
      peakPixel: (() => { const p = t.mask.indexOf(Math.max(...t.mask)); return { row: Math.floor(p / images.width), col: p % images.width }; })(),
    }));
    const metrics = {
      verdict, flagged: report.flagged, median: round(report.median), mad: round(report.mad),
      mostAnomalousClass: report.mostAnomalous, mostAnomalousIndex: report.mostAnomalous === null ? null : perClass[report.mostAnomalous]!.anomalyIndex,
      knownTarget: target, knownTargetIndex: target === null ? null : perClass[target]!.anomalyIndex,
      anomalyThreshold: params.anomaly_threshold, images: images.count, model: modelIn.id, dataset: dataIn.id, perClass,
    };
    await writeFile(join(ctx.outDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    const triggersFile: TriggersFile = {
      height: images.height, width: images.width, channels: images.channels, flagged: report.flagged,
      triggers: triggers.map((t) => ({ target: t.target, norm: round(t.norm), mask: [...t.mask].map(round), pattern: [...t.pattern].map(round) })),
    };
    await writeFile(join(ctx.outDir, TRIGGERS_FILE), JSON.stringify(triggersFile) + '\n');
    await writeFile(join(ctx.outDir, 'per-class.csv'), csv([
      ['class', 'name', 'mask_l1', 'attack_success', 'anomaly_index', 'flagged', 'reached_threshold', 'steps', 'peak_row', 'peak_col'],
      ...perClass.map((r) => [r.class, r.name, r.maskNorm, r.attackSuccess, r.anomalyIndex ?? 'inf', r.flagged, r.reachedThreshold, r.steps, r.peakPixel.row, r.peakPixel.col]),
    ]));
    await writeFile(join(ctx.outDir, 'history.csv'), csv([
      ['class', 'step', 'loss', 'cross_entropy', 'mask_l1', 'attack_success', 'cost'],
      ...triggers.flatMap((t) => t.history.map((h) => [t.target, h.step, round(h.loss), round(h.crossEntropy), round(h.maskNorm), round(h.attackSuccess), h.cost])),
    ]));
    await writeFile(join(ctx.outDir, 'masks.png'), maskGrid(triggers, images.height, images.width, images.channels));
    const seconds = (Date.now() - started) / 1000;
    ctx.log(`verdict ${verdict}: flagged [${report.flagged.join(', ')}], median L1 ${report.median.toFixed(3)}, MAD ${report.mad.toFixed(3)}; ` +
      `most anomalous class ${report.mostAnomalous ?? '-'}${target !== null ? `, planted target ${target} index ${metrics.knownTargetIndex}` : ''} (${seconds.toFixed(1)} s)`);
    return {
      metrics: {
        verdict, flagged: report.flagged.length, mostAnomalousClass: report.mostAnomalous ?? -1, mostAnomalousIndex: metrics.mostAnomalousIndex ?? -1,
        ...(target !== null ? { knownTarget: target, knownTargetIndex: metrics.knownTargetIndex ?? -1 } : {}),
      },
    };
  },
});

export default stage;
