import type { JsonObject, JsonPrimitive, JsonValue } from '../common/json.js';
import { executorSettingsSchema } from './executor-settings.js';
import { resourcesSchema, type StageResources } from './resources.js';
import { matrixRangeSchema } from './matrix-range.js';

export const PIPELINE_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]*$';
export const STAGE_ID_PATTERN = '^[a-z][a-z0-9_-]*$';
export const MATRIX_KEY_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
export const KIND_PATTERN = '^[a-z][a-z0-9_-]*$';

/** A pipeline file as it is after structural validation, before any planning. */
export interface PipelineDocument {
  name: string;
  description?: string;
  settings?: JsonObject;
  defaults?: Record<string, JsonObject>;
  stages: Record<string, StageDocument>;
}

export interface StageDocument {
  kind: string;
  description?: string;
  needs?: NeedDocument[];
  /** A list of values and/or `{ range: [...] }` generators, or one generator (see matrix-range.ts). */
  matrix?: Record<string, JsonValue>;
  exclude?: Record<string, JsonPrimitive>[];
  params?: JsonObject;
  resources?: StageResources;
}

export type NeedDocument = string | { stage: string; fan_in?: boolean | string[] };

const matrixValue = {
  type: ['string', 'number', 'boolean', 'null'],
  description: 'A YAML scalar; it appears in instance ids as `key=value`.',
};

/**
 * The shape of a pipeline file, without per-kind params (those are validated separately, after
 * defaults are merged and `${{ matrix.key }}` is substituted). `generate-schema.ts` extends it into
 * schemas/pipeline.schema.json for editors.
 */
export function pipelineStructureSchema(): JsonObject {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'bdlab pipeline',
    description:
      'A bdlab pipeline: named stages (fetch, poison, train, ...) with their params, the stages each one needs, and matrices that sweep params. See docs/pipeline-format.md.',
    type: 'object',
    additionalProperties: false,
    required: ['name', 'stages'],
    properties: {
      name: {
        type: 'string',
        pattern: PIPELINE_NAME_PATTERN,
        description: 'Pipeline name: lowercase letters, digits, `-` and `_`, starting with a letter or digit.',
      },
      description: { type: 'string', description: 'Free text shown by `bdlab plan`.' },
      settings: {
        type: 'object',
        additionalProperties: false,
        description: 'Settings for the whole run.',
        properties: {
          backend: {
            enum: ['auto', 'node', 'wasm', 'cpu'],
            description: 'TF.js backend for the stages: `auto` picks the fastest one that loads (node, then wasm, then cpu).',
          },
          cache_dir: { type: 'string', description: 'Cache directory, relative to the workspace and inside it (no absolute path, no leading `..`); --cache-dir or BDLAB_CACHE_DIR may point elsewhere.' },
          threads: {
            oneOf: [
              { type: 'integer', minimum: 1, maximum: 1024 },
              { const: 'auto' },
            ],
            description: 'Threads for each stage\'s kernels: a number, or `auto` (the available cores divided by --jobs). Overridden by --threads and $BDLAB_THREADS; never part of a cache key.',
          },
          data_path: {
            type: 'array',
            items: { type: 'string' },
            description: 'Directories searched for datasets, relative to the workspace.',
          },
          ...executorSettingsSchema(),
        },
      },
      defaults: {
        type: 'object',
        description: 'Params shared by all stages of a kind, per kind. A stage\'s own params override them (objects are merged deeply; lists and scalars are replaced).',
        propertyNames: { pattern: KIND_PATTERN },
        additionalProperties: { type: 'object', description: 'Default params for every stage of this kind.' },
      },
      stages: {
        type: 'object',
        minProperties: 1,
        description: 'The stages, by id. Order does not matter: `needs` decides the execution order.',
        propertyNames: { pattern: STAGE_ID_PATTERN },
        additionalProperties: { $ref: '#/definitions/stage' },
      },
    },
    definitions: {
      stage: {
        type: 'object',
        additionalProperties: false,
        required: ['kind'],
        properties: {
          kind: { type: 'string', description: 'The stage kind; its params are described by schemas/stages/<kind>.schema.json.' },
          description: { type: 'string', description: 'Free text.' },
          needs: {
            type: 'array',
            description:
              'Stages whose outputs this stage consumes. A plain id fans out: this stage gets one instance per upstream matrix combination and inherits its keys. `{stage: id, fan_in: true}` gathers all instances of the upstream into each instance; `fan_in: [key, ...]` gathers over those keys only.',
            items: { $ref: '#/definitions/need' },
          },
          matrix: {
            type: 'object',
            description: 'Sweep: one instance per combination of the listed values. Reference a value in params as `${{ matrix.key }}`. Values may be generated: `{ range: [start, stop, step] }`, alone or as items of the list.',
            propertyNames: { pattern: MATRIX_KEY_PATTERN },
            additionalProperties: {
              anyOf: [
                // Inlined rather than $ref'd: the error explainer picks the branch by its `type`.
                { type: 'array', minItems: 1, items: { anyOf: [matrixValue, matrixRangeSchema()] } },
                matrixRangeSchema(),
              ],
            },
          },
          exclude: {
            type: 'array',
            description: 'Matrix combinations to leave out: an instance is dropped when it matches every key of an entry.',
            items: { type: 'object', minProperties: 1, additionalProperties: matrixValue },
          },
          params: { type: 'object', description: 'Parameters of the stage kind, merged over `defaults.<kind>`.' },
          resources: resourcesSchema(),
        },
      },
      need: {
        anyOf: [
          { type: 'string', pattern: STAGE_ID_PATTERN, description: 'Id of a stage this one needs (fan-out).' },
          {
            type: 'object',
            additionalProperties: false,
            required: ['stage'],
            properties: {
              stage: { type: 'string', pattern: STAGE_ID_PATTERN, description: 'Id of the needed stage.' },
              fan_in: {
                type: ['boolean', 'array'],
                items: { type: 'string', pattern: MATRIX_KEY_PATTERN },
                description: '`true`: gather all instances of the stage; a list of matrix keys: gather over those keys only.',
              },
            },
          },
        ],
      },
    },
  };
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
