import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject, JsonValue } from '../common/json.js';
import { schemasDir as defaultSchemasDir } from '../common/paths.js';
import { pipelineStructureSchema } from './pipeline-structure.js';
import { readStageKinds } from './stage-kinds.js';

/**
 * schemas/pipeline.schema.json for editors (yaml-language-server): the structure the analyzer checks,
 * plus, per stage kind, `if kind == X then params: $ref stages/X.schema.json`, so params complete and
 * validate per kind. Generated from schemas/stages/*.schema.json; a test fails when it is stale.
 */
export function generatePipelineSchema(schemasDir: string = defaultSchemasDir()): JsonObject {
  const schema = pipelineStructureSchema();
  const kinds = [...readStageKinds(schemasDir).kinds.keys()].sort();
  const definitions = schema['definitions'] as JsonObject;
  const stage = definitions['stage'] as JsonObject;
  const properties = stage['properties'] as JsonObject;
  properties['kind'] = { ...(properties['kind'] as JsonObject), enum: kinds };
  const perKind: JsonValue[] = kinds.map((kind) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    then: { properties: { params: { $ref: `stages/${kind}.schema.json` } } },
  }));
  if (perKind.length > 0) stage['allOf'] = perKind;
  return schema;
}

/** The file's exact text: stable formatting so the staleness test can compare bytes. */
export function renderPipelineSchema(schemasDir: string = defaultSchemasDir()): string {
  return JSON.stringify(generatePipelineSchema(schemasDir), null, 2) + '\n';
}

export function pipelineSchemaFile(schemasDir: string = defaultSchemasDir()): string {
  return join(schemasDir, 'pipeline.schema.json');
}

/** Rewrites schemas/pipeline.schema.json; returns whether it changed. */
export function writePipelineSchema(schemasDir: string = defaultSchemasDir()): boolean {
  const file = pipelineSchemaFile(schemasDir);
  const text = renderPipelineSchema(schemasDir);
  let previous: string | undefined;
  try {
    previous = readFileSync(file, 'utf8');
  } catch {
    previous = undefined;
  }
  if (previous === text) return false;
  writeFileSync(file, text);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const changed = writePipelineSchema();
  console.log(`${pipelineSchemaFile()} ${changed ? 'rewritten' : 'already up to date'}`);
}
