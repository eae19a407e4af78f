import { createRequire } from 'node:module';
import type { Ajv, Options, ValidateFunction } from 'ajv';

// ajv is loaded when the first schema is compiled, not when this module is: loading it takes ~0.15 s,
// which every stage process paid at start-up although a planned stage's params need no validation.
const require = createRequire(import.meta.url);
type AjvClass = new (options: Options) => Ajv;
const ajvClass = (dialect: string): AjvClass =>
  dialect.includes('2020-12')
    ? (require('ajv/dist/2020.js') as { Ajv2020: AjvClass }).Ajv2020
    : dialect.includes('2019-09')
      ? (require('ajv/dist/2019.js') as { Ajv2019: AjvClass }).Ajv2019
      : (require('ajv') as { Ajv: AjvClass }).Ajv;

const OPTIONS: Options = {
  allErrors: true,
  // parentSchema and data let messages say what was expected and what was found.
  verbose: true,
  // `x-bdlab-version` and other annotations are not ajv keywords; formats need no plugin to be ignored.
  strict: false,
  validateFormats: false,
};

/** Compiles with the ajv flavour that matches the schema's `$schema` (draft-07 when absent). */
export function compileSchema(schema: object, options: { useDefaults?: boolean } = {}): ValidateFunction {
  const dialect = String((schema as { $schema?: unknown }).$schema ?? '');
  const settings: Options = { ...OPTIONS, useDefaults: options.useDefaults ?? false };
  // A fresh instance per schema: stage schemas may carry the same `$id` in different checkouts.
  const ajv = new (ajvClass(dialect))(settings);
  return ajv.compile(schema);
}

const stageValidators = new Map<string, { text: string; validate: ValidateFunction }>();

/** Stage params validators are compiled once per schema file content (analysis runs often, e.g. in watch mode). */
export function stageParamsValidator(schemaFile: string, schema: object): ValidateFunction {
  const text = JSON.stringify(schema);
  const cached = stageValidators.get(schemaFile);
  if (cached && cached.text === text) return cached.validate;
  const validate = compileSchema(schema, { useDefaults: true });
  stageValidators.set(schemaFile, { text, validate });
  return validate;
}
