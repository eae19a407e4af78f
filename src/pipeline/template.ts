import type { JsonObject, JsonValue } from '../common/json.js';
import type { YamlPath } from './source-map.js';
import type { MatrixPoint } from './types.js';

const EXPRESSION = /\$\{\{(.*?)\}\}/g;
const MATRIX_REFERENCE = /^matrix\.([A-Za-z_][A-Za-z0-9_]*)$/;

/** A `${{ matrix.key }}` found in params, with where it is (a path inside params). */
export interface MatrixReference {
  key: string;
  paramsPath: YamlPath;
}

export interface TemplateProblem {
  paramsPath: YamlPath;
  message: string;
}

/**
 * Params with `${{ matrix.key }}` placeholders, compiled once per stage so that resolving it for
 * each of 10^5 instances is a cheap walk; subtrees without placeholders are shared, not copied.
 */
export interface ParamsTemplate {
  /** True when no placeholder occurs: every instance gets the very same params. */
  constant: boolean;
  references: MatrixReference[];
  problems: TemplateProblem[];
  resolve(point: MatrixPoint): JsonObject;
}

type Resolver = (point: MatrixPoint) => JsonValue;

export function compileTemplate(written: JsonObject): ParamsTemplate {
  // A private copy: its constant subtrees end up in the plan (filled with schema defaults, frozen), and
  // the written ones may be shared with other stages through defaults or YAML aliases.
  const params = structuredClone(written);
  const references: MatrixReference[] = [];
  const problems: TemplateProblem[] = [];

  const compile = (value: JsonValue, path: (string | number)[]): Resolver | undefined => {
    if (typeof value === 'string') return compileString(value, path);
    if (Array.isArray(value)) {
      const items = value.map((item, index) => compile(item, [...path, index]));
      if (items.every((item) => item === undefined)) return undefined;
      return (point) => items.map((item, index) => (item ? item(point) : value[index]!));
    }
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value).map(([key, item]) => [key, item, compile(item, [...path, key])] as const);
      if (entries.every(([, , resolver]) => resolver === undefined)) return undefined;
      return (point) => {
        const resolved: JsonObject = {};
        for (const [key, item, resolver] of entries) resolved[key] = resolver ? resolver(point) : item;
        return resolved;
      };
    }
    return undefined;
  };

  const compileString = (text: string, path: (string | number)[]): Resolver | undefined => {
    if (!text.includes('${{')) return undefined;
    const pieces: (string | { key: string })[] = [];
    let last = 0;
    let found = 0;
    for (const match of text.matchAll(EXPRESSION)) {
      found++;
      const expression = match[1]!.trim();
      const reference = MATRIX_REFERENCE.exec(expression);
      if (!reference) {
        problems.push({
          paramsPath: path,
          message: `unsupported expression "\${{ ${expression} }}": only \${{ matrix.<key> }} can be used in params`,
        });
        return undefined;
      }
      references.push({ key: reference[1]!, paramsPath: path });
      pieces.push(text.slice(last, match.index), { key: reference[1]! });
      last = match.index + match[0].length;
    }
    if (found === 0) {
      problems.push({ paramsPath: path, message: 'unclosed expression: "${{" must be closed by "}}", as in ${{ matrix.<key> }}' });
      return undefined;
    }
    pieces.push(text.slice(last));
    const parts = pieces.filter((piece) => piece !== '');
    if (parts.length === 0) return undefined;
    const only = parts[0]!;
    // Exactly one placeholder and nothing else: the value keeps its YAML type (0.1 stays a number).
    if (parts.length === 1 && typeof only !== 'string') return (point) => point[only.key] ?? null;
    return (point) => parts.map((part) => (typeof part === 'string' ? part : String(point[part.key]))).join('');
  };

  const root = compile(params, []);
  return {
    constant: root === undefined,
    references,
    problems,
    resolve: root === undefined ? () => params : (point) => root(point) as JsonObject,
  };
}
