import { writeIfChanged } from '../common/write-if-changed.js';
import { join } from 'node:path';
import type { JsonValue } from '../common/json.js';
import { packageRoot, schemasDir as defaultSchemasDir } from '../common/paths.js';
import { readStageKinds } from './stage-kinds.js';

/**
 * TypeScript cannot import a JSON file `as const`, so the stage schemas are copied into a generated
 * module of `as const` literals from which json-schema-to-ts derives every stage's params type
 * (src/stages/params.ts). The JSON files stay the one place a param is written; this copy is
 * regenerated with `node dist/src/pipeline/generate-schema.js`, and a test fails when it is stale.
 */

/** Keywords that change no TypeScript type (annotations, numeric and string ranges): left out so the module stays small. */
const ANNOTATIONS = new Set([
  'description', 'title', '$comment', '$schema', 'examples', 'x-bdlab-version',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'format',
]);

function withoutAnnotations(value: JsonValue, insideProperties = false): JsonValue {
  if (Array.isArray(value)) return value.map((item) => withoutAnnotations(item));
  if (value === null || typeof value !== 'object') return value;
  const kept: { [key: string]: JsonValue } = {};
  for (const [key, child] of Object.entries(value)) {
    // Under `properties`/`definitions` the keys are names, not keywords: a param may be called `title`.
    if (!insideProperties && ANNOTATIONS.has(key)) continue;
    kept[key] = key === 'default' || key === 'const' || key === 'enum'
      ? child
      : withoutAnnotations(child, !insideProperties && (key === 'properties' || key === 'definitions'));
  }
  return kept;
}

export function renderStageParamsModule(schemasDir: string = defaultSchemasDir()): string {
  const kinds = [...readStageKinds(schemasDir).kinds.values()].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  const entries = kinds.map(({ kind, schema }) => {
    const literal = JSON.stringify(withoutAnnotations(schema as JsonValue), null, 2).replace(/\n/g, '\n  ');
    return `  ${JSON.stringify(kind)}: ${literal},`;
  });
  return [
    '// Generated from schemas/stages/*.schema.json by `node dist/src/pipeline/generate-schema.js`: do not edit.',
    '// The params types derived from it are in src/stages/params.ts.',
    'export const stageParamsSchemas = {',
    ...entries,
    '} as const;',
    '',
  ].join('\n');
}

export function stageParamsModuleFile(): string {
  return join(packageRoot(), 'src', 'stages', 'params.generated.ts');
}

/** Rewrites src/stages/params.generated.ts; returns whether it changed. */
export function writeStageParamsModule(schemasDir: string = defaultSchemasDir(), file: string = stageParamsModuleFile()): boolean {
  return writeIfChanged(file, renderStageParamsModule(schemasDir));
}
