import type { ErrorObject } from 'ajv';
import { quoteValue } from '../common/display-text.js';
import type { JsonValue } from '../common/json.js';
import type { YamlPath } from './source-map.js';
import { didYouMean, quotedList } from './suggest.js';

/** One schema violation in words, at a path into the validated value. */
export interface SchemaProblem {
  path: YamlPath;
  message: string;
  /** Point at the mapping key (an unknown or badly named property) rather than its value. */
  atKey: boolean;
}

type SchemaNode = { [key: string]: unknown };

/** Keywords whose failure is best explained by describing everything the schema expects of the value. */
const DESCRIBED_KEYWORDS = new Set([
  'type', 'enum', 'const', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'pattern', 'minLength', 'maxLength', 'format',
]);

/**
 * Turns ajv's errors (compiled with `allErrors` and `verbose`) into one message per problem, worded
 * like "must be integer >= 1 (got "ten")" and "unknown property "epoch"; did you mean "epochs"?".
 */
export function explainSchemaErrors(errors: readonly ErrorObject[], root: JsonValue): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  const add = (problem: SchemaProblem): void => {
    const key = problem.path.join('\u0000') + '\u0001' + problem.message;
    if (seen.has(key)) return;
    seen.add(key);
    problems.push(problem);
  };
  for (const error of withoutBranchNoise(errors)) {
    // Errors about a property *name* are reported once through their `propertyNames` parent.
    if (error.propertyName !== undefined && error.keyword !== 'propertyNames') continue;
    const path = pointerToPath(error.instancePath, root);
    const schema = (error.parentSchema ?? {}) as SchemaNode;
    switch (error.keyword) {
      case 'required': {
        const missing = String((error.params as { missingProperty: string }).missingProperty);
        add({ path: [...path, missing], message: `missing required property "${missing}"`, atKey: false });
        break;
      }
      case 'additionalProperties': {
        const extra = String((error.params as { additionalProperty: string }).additionalProperty);
        const known = Object.keys((schema['properties'] as SchemaNode | undefined) ?? {});
        const hint = didYouMean(extra, known);
        const choices = hint === '' && known.length > 0 && known.length <= 12 ? `; valid properties are ${quotedList(known)}` : '';
        add({ path: [...path, extra], message: `unknown property "${extra}"${hint}${choices}`, atKey: true });
        break;
      }
      case 'propertyNames': {
        const name = String((error.params as { propertyName: string }).propertyName);
        const rule = describeSchema((schema['propertyNames'] ?? {}) as SchemaNode);
        add({ path: [...path, name], message: `invalid name "${name}": must be ${rule}`, atKey: true });
        break;
      }
      case 'minItems':
      case 'minProperties': {
        const limit = Number((error.params as { limit: number }).limit);
        const [one, many] = error.keyword === 'minItems' ? ['item', 'items'] : ['entry', 'entries'];
        add({ path, message: `must have at least ${limit} ${limit === 1 ? one : many}`, atKey: false });
        break;
      }
      case 'anyOf':
      case 'oneOf': {
        const branches = ((schema[error.keyword] as SchemaNode[] | undefined) ?? []).map(describeSchema);
        add({ path, message: `must be ${branches.join(', or ')}${got(error.data)}`, atKey: false });
        break;
      }
      case 'if':
        break;
      default:
        if (DESCRIBED_KEYWORDS.has(error.keyword)) add({ path, message: `must be ${describeSchema(schema)}${got(error.data)}`, atKey: false });
        else add({ path, message: `${error.message ?? 'is invalid'}${got(error.data)}`, atKey: false });
    }
  }
  return problems;
}

/**
 * For anyOf/oneOf: when the value's type picks exactly one branch (a need written as a mapping),
 * that branch's own errors are the useful ones; otherwise only the summary is.
 */
function withoutBranchNoise(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const error of errors) {
    if (error.keyword !== 'anyOf' && error.keyword !== 'oneOf') continue;
    const branches = ((error.parentSchema as SchemaNode | undefined)?.[error.keyword] as SchemaNode[] | undefined) ?? [];
    const matching = narrowByRequired(branches, branches.flatMap((branch, index) => (typeMatches(branch, error.data) ? [index] : [])), error.data);
    const prefix = error.schemaPath + '/';
    for (const other of errors) {
      if (other === error || !other.schemaPath.startsWith(prefix) || !other.instancePath.startsWith(error.instancePath)) continue;
      const branch = Number(other.schemaPath.slice(prefix.length).split('/')[0]);
      if (matching.length !== 1 || branch !== matching[0]) dropped.add(other);
    }
    if (matching.length === 1) dropped.add(error);
  }
  return errors.filter((error) => !dropped.has(error));
}

/**
 * Of several mapping branches, the one whose required properties are all present is the one the
 * author meant (`{row: -1, col: 0, color: red}` is a row/col trigger, not a named position), so its
 * own errors ("row must be integer >= 0") say more than "must be a mapping, or a mapping".
 */
function narrowByRequired(branches: SchemaNode[], matching: number[], data: unknown): number[] {
  if (matching.length < 2 || data === null || typeof data !== 'object' || Array.isArray(data)) return matching;
  const complete = matching.filter((index) => {
    const required = branches[index]!['required'];
    return Array.isArray(required) && required.length > 0 && required.every((name) => typeof name === 'string' && name in data);
  });
  return complete.length === 1 ? complete : matching;
}

function typeMatches(schema: SchemaNode, data: unknown): boolean {
  const type = schema['type'];
  if (type === undefined) return true;
  const types = Array.isArray(type) ? (type as string[]) : [String(type)];
  return types.some((name) => jsonTypeOf(data) === name || (name === 'number' && jsonTypeOf(data) === 'integer'));
}

function jsonTypeOf(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'array';
  if (typeof data === 'number') return Number.isInteger(data) ? 'integer' : 'number';
  return typeof data;
}

/** What a schema accepts, in a few words: `integer >= 1`, `one of "cnn", "lenet5"`, `number >= 0 and <= 1`. */
export function describeSchema(schema: SchemaNode): string {
  // A schema whose pattern would read as noise says in words what it accepts.
  if (typeof schema['x-expected'] === 'string') return schema['x-expected'];
  if (Array.isArray(schema['enum'])) return `one of ${quotedList((schema['enum'] as unknown[]).map((value) => displayValue(value)), 'or')}`;
  if ('const' in schema) return displayValue(schema['const']);
  const type = schema['type'];
  const words = Array.isArray(type) ? (type as string[]).map(typeWord).join(' or ') : type === undefined ? 'a value' : typeWord(String(type));
  const limits: string[] = [];
  const bound = (keyword: string, operator: string): void => {
    if (typeof schema[keyword] === 'number') limits.push(`${operator} ${schema[keyword] as number}`);
  };
  bound('minimum', '>=');
  bound('exclusiveMinimum', '>');
  bound('maximum', '<=');
  bound('exclusiveMaximum', '<');
  if (typeof schema['multipleOf'] === 'number') limits.push(`a multiple of ${schema['multipleOf'] as number}`);
  if (typeof schema['minLength'] === 'number') limits.push(`at least ${schema['minLength'] as number} characters long`);
  if (typeof schema['maxLength'] === 'number') limits.push(`at most ${schema['maxLength'] as number} characters long`);
  if (typeof schema['pattern'] === 'string') limits.push(`matching /${schema['pattern'] as string}/`);
  if (typeof schema['format'] === 'string') limits.push(`in ${schema['format'] as string} format`);
  if (typeof schema['minItems'] === 'number') limits.push(`with at least ${schema['minItems'] as number} items`);
  return limits.length === 0 ? words : `${words} ${limits.join(' and ')}`;
}

/** YAML words for JSON Schema types; scalar type names stay as they are (`integer >= 1`). */
function typeWord(type: string): string {
  return type === 'object' ? 'a mapping' : type === 'array' ? 'a list' : type;
}

function displayValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function got(data: unknown): string {
  if (data === undefined) return '';
  if (Array.isArray(data)) return ' (got a list)';
  if (data !== null && typeof data === 'object') return ' (got a mapping)';
  return ` (got ${quoteValue(data)})`;
}

/** JSON pointer -> path, with array indexes as numbers (so YAML sequences are walked correctly). */
export function pointerToPath(pointer: string, root: JsonValue): (string | number)[] {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let current: JsonValue | undefined = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      const index = Number(segment);
      path.push(index);
      current = current[index];
    } else {
      path.push(segment);
      current = current !== null && typeof current === 'object' ? current[segment] : undefined;
    }
  }
  return path;
}
