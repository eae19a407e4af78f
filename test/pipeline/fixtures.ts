import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzePipeline } from '../../src/pipeline/index.js';
import type { AnalysisFailure, Diagnostic, Plan } from '../../src/pipeline/index.js';

/**
 * Made-up stage kinds, so these tests don't depend on the real stage schemas other areas write:
 * `load` (no params), `fit` (typed, bounded, enum, default), `chart` (2020-12 dialect, free-form).
 */
const KINDS: Record<string, object> = {
  load: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    'x-bdlab-version': '1',
    type: 'object',
    additionalProperties: false,
    properties: { source: { enum: ['tiny', 'full'] } },
  },
  fit: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    'x-bdlab-version': '3',
    type: 'object',
    additionalProperties: false,
    required: ['epochs'],
    properties: {
      epochs: { type: 'integer', minimum: 1 },
      batch_size: { type: 'integer', minimum: 1, default: 32 },
      model: { enum: ['cnn', 'lenet5', 'resnet34', 'vgg16'] },
      rate: { type: 'number', minimum: 0, maximum: 1 },
      tag: { type: 'string' },
      optimizer: {
        type: 'object',
        additionalProperties: false,
        properties: { name: { enum: ['sgd', 'adam'] }, lr: { type: 'number', exclusiveMinimum: 0 } },
      },
      layers: { type: 'array', items: { type: 'integer' } },
    },
  },
  chart: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    'x-bdlab-version': '1',
    type: 'object',
    properties: { title: { type: 'string' } },
  },
};

export interface Workspace {
  dir: string;
  schemasDir: string;
  write(name: string, text: string): string;
  analyze(text: string, name?: string): Promise<Awaited<ReturnType<typeof analyzePipeline>>>;
  plan(text: string): Promise<Plan>;
  failure(text: string): Promise<AnalysisFailure>;
  cleanup(): void;
}

export function workspace(extraKinds: Record<string, object | string> = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'bdlab-pipeline-test-'));
  const schemasDir = join(dir, 'schemas');
  mkdirSync(join(schemasDir, 'stages'), { recursive: true });
  for (const [kind, schema] of Object.entries({ ...KINDS, ...extraKinds })) {
    writeFileSync(join(schemasDir, 'stages', `${kind}.schema.json`), typeof schema === 'string' ? schema : JSON.stringify(schema, null, 2));
  }
  const self: Workspace = {
    dir,
    schemasDir,
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    analyze(text, name = 'pipeline.yaml') {
      return analyzePipeline(self.write(name, text), { schemasDir });
    },
    async plan(text) {
      const result = await self.analyze(text);
      if (!result.ok) throw new Error('expected a plan, got:\n' + result.error.diagnostics.map(brief).join('\n'));
      return result.value;
    },
    async failure(text) {
      const result = await self.analyze(text);
      if (result.ok) throw new Error('expected the analysis to fail, got ' + result.value.instances.length + ' instances');
      return result.error;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}

/** `line:col message`, the two things users see first. */
export function brief(diagnostic: Diagnostic): string {
  const at = diagnostic.location ? `${diagnostic.location.start.line}:${diagnostic.location.start.col}` : '-';
  return `${at} ${diagnostic.message}`;
}

/** Joins lines, so YAML in tests can be written with explicit line numbers in mind. */
export function yaml(...lines: string[]): string {
  return lines.join('\n') + '\n';
}
