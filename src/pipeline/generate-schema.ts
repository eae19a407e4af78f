import { writeIfChanged } from '../common/write-if-changed.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject, JsonValue } from '../common/json.js';
import { schemasDir as defaultSchemasDir } from '../common/paths.js';
import { pipelineStructureSchema } from './pipeline-structure.js';
import { readStageKinds } from './stage-kinds.js';
import { stageParamsModuleFile, writeStageParamsModule } from './stage-params-module.js';

/**
 * schemas/pipeline.schema.json for editors (yaml-language-server): the structure the analyzer checks,
 * plus, per stage kind, `if kind == X then params: <refs into stages/X.schema.json>`, so params
 * complete and validate per kind. Generated from schemas/stages/*.schema.json; a test fails when it is stale.
 */
export function generatePipelineSchema(schemasDir: string = defaultSchemasDir()): JsonObject {
  const schema = pipelineStructureSchema();
  const catalog = new Map([...readStageKinds(schemasDir).kinds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const kinds = [...catalog.keys()];
  const definitions = schema['definitions'] as JsonObject;
  const stage = definitions['stage'] as JsonObject;
  const properties = stage['properties'] as JsonObject;
  properties['kind'] = { ...(properties['kind'] as JsonObject), enum: kinds };
  const perKind: JsonValue[] = [...catalog.values()].map(({ kind, schema: paramsSchema }) => ({
    if: { properties: { kind: { const: kind } }, required: ['kind'] },
    then: { properties: { params: editorParamsSchema(kind, paramsSchema as JsonObject) } },
  }));
  if (perKind.length > 0) stage['allOf'] = perKind;
  definitions['matrix_reference'] = {
    type: 'string',
    pattern: '^\\$\\{\\{\\s*matrix\\.[A-Za-z_][A-Za-z0-9_]*\\s*\\}\\}$',
    description: 'A matrix value, substituted with its YAML type: ${{ matrix.<key> }}.',
  };
  return schema;
}

/**
 * A kind's params as editors should check them: each property refers to its definition in
 * stages/<kind>.schema.json, or may be an exact `${{ matrix.key }}` (resolved later, so a number
 * param can hold it). `required` is left out because `defaults.<kind>` may supply those params.
 * A kind whose schema has no `properties` is referred to as a whole.
 */
function editorParamsSchema(kind: string, paramsSchema: JsonObject): JsonObject {
  const file = `stages/${kind}.schema.json`;
  const properties = paramsSchema['properties'];
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) return { $ref: file };
  const wired: JsonObject = {};
  for (const name of Object.keys(properties)) {
    const pointer = '/properties/' + name.replace(/~/g, '~0').replace(/\//g, '~1');
    wired[name] = { anyOf: [{ $ref: `${file}#${encodeURI(pointer)}` }, { $ref: '#/definitions/matrix_reference' }] };
  }
  return {
    type: 'object',
    ...(typeof paramsSchema['description'] === 'string' ? { description: paramsSchema['description'] } : {}),
    properties: wired,
    ...(paramsSchema['additionalProperties'] === false ? { additionalProperties: false } : {}),
  };
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
  return writeIfChanged(pipelineSchemaFile(schemasDir), renderPipelineSchema(schemasDir));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const changed = writePipelineSchema();
  console.log(`${pipelineSchemaFile()} ${changed ? 'rewritten' : 'already up to date'}`);
  const typesChanged = writeStageParamsModule();
  console.log(`${stageParamsModuleFile()} ${typesChanged ? 'rewritten' : 'already up to date'}`);
}
