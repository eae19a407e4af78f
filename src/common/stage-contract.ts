import type { JsonObject, JsonValue } from './json.js';
import type { MatrixPoint } from '../pipeline/types.js';

/** One upstream instance as a stage sees it: a finished, read-only output directory. */
export interface StageInput {
  /** Instance id, e.g. `train[model=lenet5]`. */
  id: string;
  /** Stage id in the YAML, e.g. `train`. */
  stage: string;
  kind: string;
  matrix: MatrixPoint;
  params: JsonObject;
  /** Absolute path of the upstream's outputs (inside the cache); never write here. */
  dir: string;
}

/** Live progress forwarded to the runner display; all fields optional and free-form. */
export interface StageProgress {
  /** Short human text, e.g. `epoch 3/10 batch 120/782 loss 1.23 1450 img/s`. */
  message?: string;
  /** 0..1 when known. */
  fraction?: number;
  /** Structured values (epoch, batch, loss, imagesPerSecond, generation, bestFitness ...). */
  values?: Record<string, number | string>;
}

export interface StageContext {
  /** Instance id, for messages. */
  id: string;
  /** Upstream outputs, in the order the plan lists them. */
  inputs: StageInput[];
  /** Fresh, empty directory: the only place a stage writes its outputs. */
  outDir: string;
  /** Survives crashes and kills, keyed by the cache key: for checkpoints. Removed after success. */
  scratchDir: string;
  /** Directories searched for datasets (from --data-path, BDLAB_DATA_PATH); absolute. */
  dataPath: string[];
  /** Preferred TF.js backend: 'auto' | 'node' | 'wasm' | 'cpu'. */
  backend: string;
  /** `resources.cpus` of the stage, when set: the most CPU cores this instance may use (its thread cap). */
  cpus?: number;
  progress(p: StageProgress): void;
  log(line: string): void;
  /** Report which TF.js backend (and versions) the stage used, for the run manifest. */
  reportBackend(info: { name: string; versions: Record<string, string>; threads: number }): void;
  signal: AbortSignal;
}

/** What a stage returns; metrics are also written by the executor to `metrics.json` in the run directory. */
export interface StageResult {
  metrics?: { [key: string]: JsonValue };
}

/**
 * A stage kind's implementation, as the stage child loads it (`export default` of
 * src/stages/<kind>.ts). Built with `defineStage` (src/stages/params.ts), `run` validates the params
 * against schemas/stages/<kind>.schema.json and fills in their defaults before the stage sees them.
 */
export interface StageImplementation<P = JsonObject> {
  kind: string;
  run(params: P, ctx: StageContext): Promise<StageResult>;
  /**
   * Runs with a plan's params, which the analyzer has validated and filled in with this kind's
   * schema already: not checked again (compiling the validator was most of a short stage's start-up).
   */
  runPlanned?(params: JsonObject, ctx: StageContext): Promise<StageResult>;
}

/** A user-facing failure inside a stage: printed as one paragraph, no stack trace. */
export class StageError extends Error {
  override readonly name = 'StageError';
}
