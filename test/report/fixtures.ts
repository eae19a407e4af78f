import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttackMetrics, TrainingHistory } from '../../src/ml/artifacts.js';
import type { MatrixPoint } from '../../src/pipeline/types.js';
import type { StageContext, StageInput, StageProgress } from '../../src/common/stage-contract.js';

/** A temp directory for one test; remove it with `rm(dir, {recursive: true, force: true})`. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `bdlab-${prefix}-`));
}

/** Plausible, distinct attack metrics derived from a seed (no two seeds give the same numbers). */
export function fakeMetrics(seed: number, withCleanAccuracy = true): AttackMetrics & Record<string, unknown> {
  const n = 100 + 10 * seed;
  const histogram = Array.from({ length: 10 }, (_, k) => ((seed + 1) * (k + 3)) % 17);
  const classPairs = Array.from({ length: 10 }, (_, o) =>
    Array.from({ length: 10 }, (_, t) => (o === t ? 0 : (o * 7 + t * 3 + seed) % 23)));
  const metrics: AttackMetrics & Record<string, unknown> = {
    targetedSuccessRate: 0.5 + 0.11 * seed,
    nonTargetedSuccessRate: 0.6 + 0.09 * seed,
    targetedConfidence: 0.7 + 0.05 * seed,
    nonTargetedConfidence: 0.65 + 0.07 * seed,
    targetClassHistogram: histogram,
    classPairs,
    attemptedTargeted: n * 9,
    attemptedImages: n,
    // evaluate may add fields the plot stage does not know; they must be ignored
    model: 'whatever',
    trigger: { row: 1, col: 2 },
  };
  if (withCleanAccuracy) metrics.cleanAccuracy = 0.8 - 0.03 * seed;
  return metrics;
}

export function fakeHistory(seed: number, epochs: number): TrainingHistory {
  return {
    model: `model${seed}`,
    epochs: Array.from({ length: epochs }, (_, e) => ({
      epoch: e + 1,
      loss: 2 / (e + 1 + seed),
      accuracy: 0.3 + 0.1 * e + 0.01 * seed,
      valLoss: 2.2 / (e + 1 + seed),
      valAccuracy: 0.28 + 0.1 * e + 0.01 * seed,
      learningRate: 0.001,
      seconds: 10 + seed,
      imagesPerSecond: 1000 + 100 * seed,
    })),
  };
}

/** Writes one upstream output directory with the given JSON files and returns its StageInput. */
export async function fakeInput(
  root: string, kind: string, stage: string, matrix: MatrixPoint, files: Record<string, unknown>,
): Promise<StageInput> {
  const keys = Object.keys(matrix);
  const id = keys.length > 0 ? `${stage}[${keys.map((k) => `${k}=${String(matrix[k])}`).join(',')}]` : stage;
  const dir = join(root, 'inputs', id.replace(/[^a-zA-Z0-9=.-]+/g, '_'));
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return { id, stage, kind, matrix, params: {}, dir };
}

export interface FakeContext extends StageContext {
  progressSeen: StageProgress[];
  logged: string[];
}

/** A StageContext whose outDir is `<root>/out`, recording progress and log lines. */
export async function fakeContext(root: string, id: string, inputs: StageInput[]): Promise<FakeContext> {
  const outDir = join(root, 'out');
  const scratchDir = join(root, 'scratch');
  await mkdir(outDir, { recursive: true });
  await mkdir(scratchDir, { recursive: true });
  const progressSeen: StageProgress[] = [];
  const logged: string[] = [];
  return {
    id, inputs, outDir, scratchDir, dataPath: [], backend: 'cpu',
    progress: (p) => progressSeen.push(p),
    log: (line) => logged.push(line),
    reportBackend: () => undefined,
    signal: new AbortController().signal,
    progressSeen,
    logged,
  };
}
