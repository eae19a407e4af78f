import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair } from 'yaml';
import type { JsonValue } from '../common/json.js';
import type { Diagnostic, SourceRange } from './types.js';

/** A path into the parsed YAML: mapping keys and sequence indexes. */
export type YamlPath = readonly (string | number)[];

/** `stages.train.params.epochs`, `stages.train.needs[0]`. */
export function formatYamlPath(path: YamlPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += (text === '' ? '' : '.') + (/^[A-Za-z0-9_-]+$/.test(segment) ? segment : JSON.stringify(segment));
  }
  return text === '' ? '(document)' : text;
}

/** The parsed pipeline file together with what is needed to turn YAML paths into `line:col`. */
export class SourceFile {
  private readonly lines: LineCounter;
  readonly document: Document.Parsed;

  constructor(readonly file: string, readonly text: string) {
    this.lines = new LineCounter();
    // prettyErrors would bake positions and excerpts into messages; the diagnostics printer does that.
    // `merge` allows `<<: *base` to share stage settings, a common YAML idiom.
    this.document = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false, merge: true });
  }

  /** Problems the YAML parser found, duplicate keys included, with the first occurrence as related location. */
  syntaxDiagnostics(): Diagnostic[] {
    const found: Diagnostic[] = [];
    for (const [severity, list] of [['error', this.document.errors], ['warning', this.document.warnings]] as const) {
      for (const problem of list) {
        const location = this.rangeOf(problem.pos[0], problem.pos[1]);
        if (problem.code === 'DUPLICATE_KEY') {
          const duplicate = this.findDuplicateKey(problem.pos[0]);
          if (duplicate) {
            found.push({
              severity,
              path: formatYamlPath(duplicate.path),
              message: `duplicate key "${duplicate.key}": each key may appear only once in a mapping`,
              location: this.rangeOfNode(duplicate.second) ?? location,
              related: [{ message: `"${duplicate.key}" first defined here`, location: this.rangeOfNode(duplicate.first) }],
            });
            continue;
          }
        }
        found.push({ severity, path: '(document)', message: `YAML syntax: ${problem.message}`, location });
      }
    }
    return found;
  }

  /** Only problems the analysis can survive: a duplicate key still leaves a meaningful document. */
  hasFatalSyntaxErrors(): boolean {
    return this.document.errors.some((problem) => problem.code !== 'DUPLICATE_KEY');
  }

  /** The document as plain data; a thrown Error means too many aliases (an "alias bomb"). */
  toJson(): JsonValue {
    return (this.document.toJS({ maxAliasCount: 1000 }) ?? null) as JsonValue;
  }

  /** The node at `path`, or undefined when the YAML has nothing there (e.g. a value from defaults). */
  nodeAt(path: YamlPath): YamlNode | undefined {
    return this.pairAt(path)?.node;
  }

  /**
   * Where to point for `path`. `key: true` points at the mapping key instead of its value
   * (unknown or duplicate properties). Falls back to the nearest ancestor that exists.
   */
  locate(path: YamlPath, options: { key?: boolean } = {}): SourceRange | undefined {
    for (let length = path.length; length >= 0; length--) {
      const found = this.pairAt(path.slice(0, length));
      if (!found) continue;
      const target = options.key && length === path.length && found.keyNode ? found.keyNode : found.node;
      const range = this.rangeOfNode(target);
      if (range) return range;
    }
    return undefined;
  }

  /** Like locate, but undefined unless the exact path exists. */
  locateExact(path: YamlPath, options: { key?: boolean } = {}): SourceRange | undefined {
    const found = this.pairAt(path);
    if (!found) return undefined;
    return this.rangeOfNode(options.key && found.keyNode ? found.keyNode : found.node);
  }

  rangeOfNode(node: YamlNode | undefined | null): SourceRange | undefined {
    if (!node?.range) return undefined;
    return this.rangeOf(node.range[0], node.range[1]);
  }

  rangeOf(start: number, end: number): SourceRange {
    const from = this.lines.linePos(start);
    const to = this.lines.linePos(Math.max(start, end));
    return { file: this.file, start: { line: from.line, col: from.col }, end: { line: to.line, col: to.col } };
  }

  private pairAt(path: YamlPath): { node: YamlNode; keyNode?: YamlNode } | undefined {
    let node: unknown = this.document.contents;
    let keyNode: YamlNode | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        // The last of duplicate keys, as that is the one whose value the parsed document keeps.
        let pair: Pair<unknown, unknown> | undefined;
        for (const item of node.items) if (scalarKey(item) === String(segment)) pair = item;
        if (!pair) return undefined;
        keyNode = pair.key as YamlNode;
        // `key:` with nothing after it has no value node; point at the key then.
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        keyNode = undefined;
        if (node === undefined) return undefined;
      } else {
        return undefined;
      }
    }
    return node ? { node: node as YamlNode, keyNode } : undefined;
  }

  private findDuplicateKey(offset: number): { path: YamlPath; key: string; first: YamlNode; second: YamlNode } | undefined {
    const visit = (node: unknown, path: (string | number)[]): ReturnType<SourceFile['findDuplicateKey']> => {
      if (isMap(node)) {
        const seen = new Map<string, YamlNode>();
        for (const pair of node.items) {
          const key = scalarKey(pair);
          const keyNode = pair.key as YamlNode | null;
          if (key !== undefined && keyNode) {
            const first = seen.get(key);
            if (first && keyNode.range?.[0] === offset) return { path: [...path, key], key, first, second: keyNode };
            if (!first) seen.set(key, keyNode);
          }
          const inner = visit(pair.value, [...path, key ?? '?']);
          if (inner) return inner;
        }
      } else if (isSeq(node)) {
        for (let index = 0; index < node.items.length; index++) {
          const inner = visit(node.items[index], [...path, index]);
          if (inner) return inner;
        }
      }
      return undefined;
    };
    return visit(this.document.contents, []);
  }
}

function scalarKey(pair: Pair<unknown, unknown>): string | undefined {
  if (!isPair(pair)) return undefined;
  const key = pair.key;
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}
