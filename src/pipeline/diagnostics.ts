import type { Diagnostic, SourceRange } from './types.js';

/** All problems of one pipeline file. */
export interface AnalysisFailure {
  file: string;
  diagnostics: Diagnostic[];
  /** The file's text, for quoting source lines; absent when it could not be read. */
  source?: string;
}

/**
 * Compiler-style report:
 *
 *     pipelines/x.yaml:12:15: error: must be integer >= 1 (got "ten")
 *       at stages.train.params.epochs
 *        12 |     epochs: ten
 *           |             ^~~
 *       pipelines/x.yaml:3:5: note: ...
 *
 * Related locations are indented under their diagnostic; a summary line closes the report.
 */
export function formatDiagnostics(failure: AnalysisFailure): string {
  const sources = new Map<string, string[]>();
  if (failure.source !== undefined) sources.set(failure.file, failure.source.split(/\r?\n/));
  const lines: string[] = [];
  for (const diagnostic of failure.diagnostics) {
    lines.push(`${where(diagnostic.location, failure.file)}: ${diagnostic.severity}: ${diagnostic.message}`);
    if (diagnostic.path) lines.push(`  at ${diagnostic.path}`);
    lines.push(...excerpt(diagnostic.location, sources, '  '));
    for (const related of diagnostic.related ?? []) {
      lines.push(`  ${where(related.location, failure.file)}: note: ${related.message}`);
      lines.push(...excerpt(related.location, sources, '    '));
    }
  }
  const errors = failure.diagnostics.filter((diagnostic) => diagnostic.severity === 'error').length;
  const warnings = failure.diagnostics.length - errors;
  const counts = [plural(errors, 'error'), ...(warnings > 0 ? [plural(warnings, 'warning')] : [])].join(' and ');
  lines.push(`${counts} in ${failure.file}`);
  return lines.join('\n');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function where(location: SourceRange | undefined, file: string): string {
  if (!location) return file;
  return `${location.file}:${location.start.line}:${location.start.col}`;
}

/** The source line with a `^~~~` underline below the range (to the end of the line for multi-line ranges). */
function excerpt(location: SourceRange | undefined, sources: Map<string, string[]>, indent: string): string[] {
  if (!location) return [];
  const text = sources.get(location.file)?.[location.start.line - 1];
  if (text === undefined) return [];
  const number = String(location.start.line);
  const gutter = ' '.repeat(number.length);
  const startCol = Math.min(location.start.col, text.length + 1);
  const endCol = location.end.line === location.start.line ? Math.max(location.end.col, startCol + 1) : text.length + 1;
  const width = Math.max(1, Math.min(endCol, text.length + 1) - startCol);
  // Keep tabs so the caret lines up with the source however the terminal renders them.
  const padding = text.slice(0, startCol - 1).replace(/[^\t]/g, ' ');
  return [`${indent}${number} | ${text}`, `${indent}${gutter} | ${padding}^${'~'.repeat(width - 1)}`];
}
