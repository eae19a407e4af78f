import { Ajv } from 'ajv';
import type { Options, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

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
  const ajv = dialect.includes('2020-12') ? new Ajv2020(settings) : dialect.includes('2019-09') ? new Ajv2019(settings) : new Ajv(settings);
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
