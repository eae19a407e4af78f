import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttackMetrics, EpochRecord, TrainingHistory } from '../ml/artifacts.js';
import type { MatrixPoint } from '../pipeline/types.js';
import { fail, ok, type Result } from '../common/result.js';

/** Upstream kinds whose `metrics.json` is an AttackMetrics file. */
export const METRICS_KINDS: readonly string[] = ['evaluate', 'one-pixel-search'];
/** Upstream kinds whose `history.json` is a TrainingHistory file. */
export const HISTORY_KINDS: readonly string[] = ['train', 'transfer-retrain'];

/** What the report needs to know about any upstream instance (a subset of StageInput). */
export interface InstanceRef {
  id: string;
  stage: string;
  kind: string;
  matrix: MatrixPoint;
  dir: string;
}

/** An evaluate or one-pixel-search output, with its metrics checked. */
export interface EvaluatedInstance extends InstanceRef {
  metrics: AttackMetrics;
}

/**
 * A train or transfer-retrain output. Epoch values that were non-finite when written (JSON null)
 * become NaN: the curves leave those points out instead of the whole report failing.
 */
export interface TrainedInstance extends InstanceRef {
  history: TrainingHistory;
}

type Json = unknown;

function isRecord(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isNumber = (v: Json): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumberArray = (v: Json): v is number[] => Array.isArray(v) && v.every(isNumber);

async function readJsonFile(ref: InstanceRef, name: string): Promise<Result<Json, string>> {
  const file = join(ref.dir, name);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
    return fail(`Input ${ref.id} (kind ${ref.kind}) has no usable ${name}: ${file} ${why}. ` +
      `A ${ref.kind} stage writes ${name} into its output directory; re-run that stage.`);
  }
  try {
    return ok(JSON.parse(text) as Json);
  } catch (err) {
    return fail(`Input ${ref.id}: ${file} is not valid JSON (${(err as Error).message}).`);
  }
}

function invalid(ref: InstanceRef, name: string, problem: string, expected: string): string {
  return `Input ${ref.id} (kind ${ref.kind}): ${join(ref.dir, name)} ${problem}; expected ${expected}.`;
}

/**
 * Reads and checks `metrics.json` of an evaluate / one-pixel-search input. Unknown extra fields
 * (model, trigger, ...) are ignored; the error names the input, the file and the bad field.
 */
export async function loadAttackMetrics(ref: InstanceRef): Promise<Result<EvaluatedInstance, string>> {
  const name = 'metrics.json';
  const read = await readJsonFile(ref, name);
  if (!read.ok) return read;
  const m = read.value;
  if (!isRecord(m)) return fail(invalid(ref, name, 'is not a JSON object', 'an object with the attack metrics'));
  const rates = ['targetedSuccessRate', 'nonTargetedSuccessRate', 'targetedConfidence', 'nonTargetedConfidence'] as const;
  for (const key of rates) {
    if (!isNumber(m[key]) || m[key] < 0 || m[key] > 1) {
      return fail(invalid(ref, name, `has ${key} = ${JSON.stringify(m[key])}`, 'a number between 0 and 1'));
    }
  }
  if (m.cleanAccuracy !== undefined && (!isNumber(m.cleanAccuracy) || m.cleanAccuracy < 0 || m.cleanAccuracy > 1)) {
    return fail(invalid(ref, name, `has cleanAccuracy = ${JSON.stringify(m.cleanAccuracy)}`, 'a number between 0 and 1 (or no field)'));
  }
  for (const key of ['attemptedTargeted', 'attemptedImages'] as const) {
    if (!isNumber(m[key]) || m[key] < 0) {
      return fail(invalid(ref, name, `has ${key} = ${JSON.stringify(m[key])}`, 'a count (number >= 0)'));
    }
  }
  if (!isNumberArray(m.targetClassHistogram) || m.targetClassHistogram.length === 0) {
    return fail(invalid(ref, name, 'has a missing or malformed targetClassHistogram', 'an array of counts, index k = 0..9'));
  }
  const pairs = m.classPairs;
  if (!Array.isArray(pairs) || pairs.length === 0 || !pairs.every((row) => isNumberArray(row) && row.length === pairs.length)) {
    return fail(invalid(ref, name, 'has a missing or malformed classPairs', 'a square matrix of counts, classPairs[original][target]'));
  }
  const metrics: AttackMetrics = {
    targetedSuccessRate: m.targetedSuccessRate as number,
    nonTargetedSuccessRate: m.nonTargetedSuccessRate as number,
    targetedConfidence: m.targetedConfidence as number,
    nonTargetedConfidence: m.nonTargetedConfidence as number,
    targetClassHistogram: m.targetClassHistogram,
    classPairs: pairs as number[][],
    attemptedTargeted: m.attemptedTargeted as number,
    attemptedImages: m.attemptedImages as number,
  };
  if (isNumber(m.cleanAccuracy)) metrics.cleanAccuracy = m.cleanAccuracy;
  if (isNumberArray(m.perClassAccuracy)) metrics.perClassAccuracy = m.perClassAccuracy;
  return ok({ ...pick(ref), metrics });
}

const numberOrNull = (v: Json): v is number | null => v === null || isNumber(v);

/** Reads and checks `history.json` of a train / transfer-retrain input. */
export async function loadTrainingHistory(ref: InstanceRef): Promise<Result<TrainedInstance, string>> {
  const name = 'history.json';
  const read = await readJsonFile(ref, name);
  if (!read.ok) return read;
  const h = read.value;
  if (!isRecord(h) || !Array.isArray(h.epochs)) {
    return fail(invalid(ref, name, 'has no epochs array', 'an object {model, epochs: [{epoch, loss, accuracy, ...}]}'));
  }
  const epochs: EpochRecord[] = [];
  for (const [i, e] of h.epochs.entries()) {
    const bad = !isRecord(e) || !isNumber(e.epoch) || !numberOrNull(e.loss) || !numberOrNull(e.accuracy) ||
      (e.valLoss !== undefined && !numberOrNull(e.valLoss)) || (e.valAccuracy !== undefined && !numberOrNull(e.valAccuracy));
    if (bad) {
      return fail(invalid(ref, name, `has a malformed epochs[${i}]`, 'numbers for epoch, loss, accuracy and, if present, valLoss, valAccuracy'));
    }
    const record = e as Record<string, Json>;
    const num = (v: Json): number => (isNumber(v) ? v : Number.NaN);
    const epoch: EpochRecord = {
      epoch: record.epoch as number,
      loss: num(record.loss),
      accuracy: num(record.accuracy),
      learningRate: num(record.learningRate),
      seconds: num(record.seconds),
      imagesPerSecond: num(record.imagesPerSecond),
    };
    if (record.valLoss !== undefined) epoch.valLoss = num(record.valLoss);
    if (record.valAccuracy !== undefined) epoch.valAccuracy = num(record.valAccuracy);
    epochs.push(epoch);
  }
  const model = typeof h.model === 'string' ? h.model : '';
  return ok({ ...pick(ref), history: { model, epochs } });
}

function pick(ref: InstanceRef): InstanceRef {
  return { id: ref.id, stage: ref.stage, kind: ref.kind, matrix: ref.matrix, dir: ref.dir };
}
