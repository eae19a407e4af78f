import { escapeControl } from '../common/display-text.js';
import type { Diagnostic, SourceRange } from './types.js';

/** Longest message printed; values inside messages are cut long before this (quoteValue). */
const MAX_MESSAGE = 2000;
/** Source characters shown before the start of the underlined range, and in total. */
const EXCERPT_BEFORE = 40;
const EXCERPT_WIDTH = 120;

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
    lines.push(`${where(diagnostic.location, failure.file)}: ${diagnostic.severity}: ${safeMessage(diagnostic.message)}`);
    if (diagnostic.path) lines.push(`  at ${safeMessage(diagnostic.path)}`);
    lines.push(...excerpt(diagnostic.location, sources, '  '));
    for (const related of diagnostic.related ?? []) {
      lines.push(`  ${where(related.location, failure.file)}: note: ${safeMessage(related.message)}`);
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

/** Control characters escaped; an overlong message (e.g. echoing a huge key) cut in the middle. */
function safeMessage(text: string): string {
  const cut = text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE / 2)} … ${text.slice(-MAX_MESSAGE / 2)}`;
  return escapeControl(cut);
}

/**
 * The source line with a `^~~~` underline below the range (to the end of the line for multi-line
 * ranges). A long line shows only a window around the range; control characters are escaped.
 */
function excerpt(location: SourceRange | undefined, sources: Map<string, string[]>, indent: string): string[] {
  if (!location) return [];
  const text = sources.get(location.file)?.[location.start.line - 1];
  if (text === undefined) return [];
  const number = String(location.start.line);
  const gutter = ' '.repeat(number.length);
  const startCol = Math.min(location.start.col, text.length + 1);
  const endCol = location.end.line === location.start.line ? Math.max(location.end.col, startCol + 1) : text.length + 1;
  const from = Math.max(0, startCol - 1 - EXCERPT_BEFORE);
  const to = Math.min(text.length, from + EXCERPT_WIDTH);
  const before = (from > 0 ? '…' : '') + escapeControl(text.slice(from, startCol - 1));
  const marked = escapeControl(text.slice(startCol - 1, Math.min(endCol - 1, to)));
  const shown = before + marked + escapeControl(text.slice(Math.min(endCol - 1, to), to)) + (to < text.length ? '…' : '');
  const width = Math.max(1, marked.length);
  // Keep tabs so the caret lines up with the source however the terminal renders them.
  const padding = before.replace(/[^\t]/g, ' ');
  return [`${indent}${number} | ${shown}`, `${indent}${gutter} | ${padding}^${'~'.repeat(width - 1)}`];
}
