import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import type { JsonObject, JsonValue } from '../common/json.js';
import { schemasDir } from '../common/paths.js';
import { StageError, type StageContext, type StageImplementation, type StageResult } from '../common/stage-contract.js';
import { explainSchemaErrors } from '../pipeline/schema-messages.js';
import { stageParamsValidator } from '../pipeline/validators.js';
import type { stageParamsSchemas } from './params.generated.js';

/**
 * A stage's params are written once, in schemas/stages/<kind>.schema.json: names, types, ranges,
 * defaults. The types below are derived from it (json-schema-to-ts), and ajv fills the defaults in
 * before a stage runs, so stage code neither restates the shape nor repeats a default.
 */
type Schemas = typeof stageParamsSchemas;
export type StageKindName = keyof Schemas;

/** Params as a stage sees them: validated, every param with a default present. */
type FilledParams = { [K in StageKindName]: FromSchema<Schemas[K]> };
/** Params as written in a pipeline or a test: params with a default may be left out. */
type WrittenParams = { [K in StageKindName]: FromSchema<Schemas[K], { keepDefaultedPropertiesOptional: true }> };

export type StageParams<K extends StageKindName> = FilledParams[K];
export type StageParamsInput<K extends StageKindName> = WrittenParams[K];

function schemaFile(kind: string): string {
  return join(schemasDir(), 'stages', `${kind}.schema.json`);
}

/**
 * Validates params against the kind's schema and returns a copy with the defaults filled in: the
 * same validator (and so the same defaults) the analyzer uses for cache keys. Params from a plan are
 * already filled, so for them this only re-checks.
 */
export function withDefaults(kind: StageKindName, params: object): JsonObject {
  const file = schemaFile(kind);
  const validate = stageParamsValidator(file, JSON.parse(readFileSync(file, 'utf8')) as object);
  const filled = structuredClone(params) as JsonObject;
  if (!validate(filled)) {
    const problems = explainSchemaErrors(validate.errors ?? [], filled as JsonValue)
      .map((p) => `${p.path.length ? p.path.join('.') : '(params)'}: ${p.message}`);
    throw new StageError(`invalid ${kind} params (see ${join('schemas', 'stages', `${kind}.schema.json`)}): ${problems.join('; ')}`);
  }
  return filled;
}

/**
 * A stage kind's implementation, written against its filled params:
 * `defineStage('train')({ async run(params, ctx) { ... } })`. The returned `run` accepts params as
 * written (a plan's, or a test's with defaults left out) and fills the defaults first. (Two calls so
 * that the kind is fixed before `run` is checked: inferring both at once makes the checker expand
 * the params types of every kind together, which is too deep for it.)
 */
export function defineStage<K extends StageKindName>(kind: K) {
  return (stage: { run(params: StageParams<K>, ctx: StageContext): Promise<StageResult> }): StageImplementation<StageParamsInput<K>> => {
    // Typed through `unknown` for the same reason.
    const run = stage.run as unknown as (params: object, ctx: StageContext) => Promise<StageResult>;
    const implementation: StageImplementation<object> = { kind, run: (params, ctx) => run(withDefaults(kind, params), ctx), runPlanned: run };
    return implementation as unknown as StageImplementation<StageParamsInput<K>>;
  };
}
