/**
 * Planning cost of a large sweep: one stage with a 10x10x10x100 matrix (10^5 instances) and a
 * fan-out stage downstream with its own 2-value matrix (2x10^5), plus a fan-in over everything.
 * The analysis must stay in seconds: joins are hashed and each distinct params object is validated once.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzePipeline, formatDiagnostics } from '../src/pipeline/index.js';

const range = (count: number, map: (index: number) => string | number): string => `[${Array.from({ length: count }, (_, index) => map(index)).join(', ')}]`;

function sweepYaml(): string {
  return [
    'name: planning-bench',
    'defaults:',
    '  train: { epochs: 3, batch_size: 64 }',
    'stages:',
    '  data: { kind: fetch, params: { dataset: tiny } }',
    '  train:',
    '    kind: train',
    '    needs: [data]',
    '    matrix:',
    `      model: ${range(10, (index) => `m${index}`)}`,
    `      rate: ${range(10, (index) => (index + 1) / 100)}`,
    `      pixel: ${range(10, (index) => index * 3)}`,
    `      seed: ${range(100, (index) => index)}`,
    '    params: { model: "${{ matrix.model }}", rate: "${{ matrix.rate }}", pixel: "${{ matrix.pixel }}", seed: "${{ matrix.seed }}" }',
    '  evaluate:',
    '    kind: evaluate',
    '    needs: [train]',
    '    matrix: { split: [clean, triggered] }',
    '    params: { split: "${{ matrix.split }}", label: "${{ matrix.model }}/${{ matrix.seed }}" }',
    '  summary: { kind: evaluate, needs: [{ stage: evaluate, fan_in: [seed] }], params: { split: clean, label: "${{ matrix.model }}" } }',
    '',
  ].join('\n');
}

function writeSchemas(dir: string): void {
  const stages = join(dir, 'stages');
  mkdirSync(stages, { recursive: true });
  const schema = (properties: object, required: string[] = []): string =>
    JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', 'x-bdlab-version': '1', type: 'object', additionalProperties: false, required, properties });
  writeFileSync(join(stages, 'fetch.schema.json'), schema({ dataset: { enum: ['tiny', 'cifar10'] } }, ['dataset']));
  writeFileSync(join(stages, 'train.schema.json'), schema({
    model: { type: 'string' },
    rate: { type: 'number', minimum: 0, maximum: 1 },
    pixel: { type: 'integer', minimum: 0, maximum: 1023 },
    seed: { type: 'integer', minimum: 0 },
    epochs: { type: 'integer', minimum: 1 },
    batch_size: { type: 'integer', minimum: 1 },
  }, ['model', 'rate']));
  writeFileSync(join(stages, 'evaluate.schema.json'), schema({ split: { enum: ['clean', 'triggered'] }, label: { type: 'string' } }, ['split']));
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-bench-planning-'));
  try {
    const schemasDir = join(dir, 'schemas');
    writeSchemas(schemasDir);
    const file = join(dir, 'sweep.yaml');
    writeFileSync(file, sweepYaml());
    for (const round of ['cold', 'warm']) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const result = await analyzePipeline(file, { schemasDir });
      const seconds = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      // CPU seconds too: on a shared machine wall time mostly measures the neighbours.
      const cpuSeconds = (used.user + used.system) / 1e6;
      if (!result.ok) throw new Error(formatDiagnostics(result.error));
      const instances = result.value.instances;
      const edges = instances.reduce((sum, instance) => sum + instance.inputs.length, 0);
      console.log(`planning ${instances.length} instances (${edges} edges, ${round}): ${seconds.toFixed(2)} s (cpu ${cpuSeconds.toFixed(2)} s)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
