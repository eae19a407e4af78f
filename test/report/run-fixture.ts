import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../../src/common/json.js';
import type { InstanceStatus } from '../../src/executor/events.js';
import type { Manifest } from '../../src/executor/manifest.js';
import type { PlanFile } from '../../src/executor/run-dir.js';
import { sanitizeInstanceId } from '../../src/pipeline/index.js';
import type { InstanceId } from '../../src/pipeline/types.js';

/** One instance of a hand-made run: what plan.json, manifest.json and stages/<id>/ record about it. */
export interface FixtureInstance {
  id: string;
  stage: string;
  kind: string;
  matrix?: Record<string, string | number>;
  params?: JsonObject;
  inputs?: string[];
  status?: InstanceStatus;
  /** stages/<id>/metrics.json (what the stage returned). */
  metrics?: JsonObject;
  /** Files of stages/<id>/outputs/ (JSON values are serialized). */
  outputs?: Record<string, unknown>;
}

export interface FixtureRun {
  id: string;
  pipeline: string;
  git?: { commit: string; dirty: boolean };
  instances: FixtureInstance[];
}

/** Writes `<workspace>/runs/<id>/` as `bdlab run` leaves it: plan.json, manifest.json, pipeline.yaml, stages/. */
export async function writeRun(workspace: string, run: FixtureRun): Promise<string> {
  const dir = join(workspace, 'runs', run.id);
  await mkdir(join(dir, 'stages'), { recursive: true });
  const plan: PlanFile = {
    name: run.pipeline,
    file: join(workspace, `${run.pipeline}.yaml`),
    planHash: run.id.slice(-8),
    instances: run.instances.map((i, n) => ({
      id: i.id,
      stage: i.stage,
      kind: i.kind,
      matrix: i.matrix ?? {},
      params: i.params ?? {},
      inputs: i.inputs ?? [],
      cacheKey: (i.status ?? 'succeeded') === 'succeeded' ? `${run.id.slice(-8)}${String(n).padStart(56, '0')}` : null,
    })),
  };
  const manifest: Manifest = {
    runId: run.id,
    tool: { name: 'bdlab', version: '0.1.0' },
    node: process.version,
    platform: process.platform,
    pipeline: { name: run.pipeline, file: plan.file, git: run.git ?? null },
    workspace,
    cacheDir: join(workspace, '.bdlab', 'cache'),
    options: { executor: 'local', jobs: 1, threads: 1, only: [], force: [], failFast: false, backend: 'cpu', dataPath: [] },
    startedAt: '2026-11-28T10:00:00.000Z',
    endedAt: '2026-11-28T10:01:00.000Z',
    durationMs: 60_000,
    status: run.instances.some((i) => i.status === 'failed') ? 'failed' : 'succeeded',
    backends: [],
    counts: { succeeded: 0, cached: 0, failed: 0, skipped: 0, interrupted: 0 },
    instances: Object.fromEntries(
      run.instances.map((i, n) => [i.id, { status: i.status ?? 'succeeded', cacheKey: plan.instances[n]!.cacheKey, durationMs: 1000 }]),
    ),
  };
  await writeFile(join(dir, 'plan.json'), JSON.stringify(plan));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(dir, 'pipeline.yaml'), `name: ${run.pipeline}\n`);
  for (const inst of run.instances) {
    const stageDir = join(dir, 'stages', sanitizeInstanceId(inst.id as InstanceId));
    await mkdir(stageDir, { recursive: true });
    if (inst.metrics) await writeFile(join(stageDir, 'metrics.json'), JSON.stringify(inst.metrics));
    if (inst.outputs) {
      await mkdir(join(stageDir, 'outputs'), { recursive: true });
      for (const [name, content] of Object.entries(inst.outputs)) {
        await writeFile(join(stageDir, 'outputs', name), typeof content === 'string' ? content : JSON.stringify(content));
      }
    }
  }
  return dir;
}

/**
 * A small sweep as two runs would record it: data → poison[rate] → train[rate] → evaluate[rate],
 * with `epochs` for the training and hand-picked metrics per rate.
 */
export function sweepRun(
  id: string,
  epochs: number,
  results: Record<string, { clean: number; targeted: number; nonTargeted: number; confidence: number }>,
  extra: { outputs?: (rate: number, seed: number) => Record<string, unknown>; history?: (rate: number) => unknown } = {},
): FixtureRun {
  const rates = Object.keys(results).map(Number);
  const instances: FixtureInstance[] = [{ id: 'data', stage: 'data', kind: 'fetch', params: { dataset: 'cifar10', subset: { train: 1000, test: 200 } }, metrics: { train: 1000, test: 200 } }];
  rates.forEach((rate, n) => {
    const r = results[String(rate)]!;
    instances.push(
      { id: `poison[rate=${rate}]`, stage: 'poison', kind: 'poison', matrix: { rate }, inputs: ['data'], params: { rate, trigger: { row: 16, col: 16, color: [255, 0, 255] }, target: 0 }, metrics: { rate } },
      {
        id: `train[rate=${rate}]`, stage: 'train', kind: 'train', matrix: { rate }, inputs: [`poison[rate=${rate}]`],
        params: { model: 'cnn', epochs, seed: 1 }, metrics: { finalAccuracy: 0.5 + n / 10, finalLoss: 1.2, epochs },
        ...(extra.history ? { outputs: { 'history.json': extra.history(rate) } } : {}),
      },
      {
        id: `evaluate[rate=${rate}]`, stage: 'evaluate', kind: 'evaluate', matrix: { rate }, inputs: [`train[rate=${rate}]`, `poison[rate=${rate}]`],
        params: { batch_size: 256 },
        metrics: { cleanAccuracy: r.clean, targetedSuccessRate: r.targeted, nonTargetedSuccessRate: r.nonTargeted, targetedConfidence: r.confidence, nonTargetedConfidence: r.confidence, images: 200 },
        ...(extra.outputs ? { outputs: extra.outputs(rate, n) } : {}),
      },
    );
  });
  return { id, pipeline: 'sweep', instances };
}
