import type { JsonPrimitive } from '../common/json.js';
import { formatMetric, type MetricUnit } from './metric-columns.js';

/**
 * A table as data: raw cells (numbers at full precision, null where a value does not apply) plus
 * what each column holds, so one table prints for people (text, Markdown, HTML) and for programs
 * (CSV, JSON) without the two drifting.
 */
export interface DataTable {
  columns: TableColumn[];
  rows: JsonPrimitive[][];
  /** Where metric columns hold a different measure in each row (a diff's A and B): the unit per row. */
  rowUnits?: (MetricUnit | undefined)[];
}

export interface TableColumn {
  name: string;
  /** `label`: identifies the row (run, instance); `param`: a resolved param; `metric`: a result; `delta`: a change B − A. */
  role: 'label' | 'param' | 'metric' | 'delta';
  /** For metric and delta columns: how values read. A delta column's cells are already formatted text. */
  unit?: MetricUnit;
}

export const TABLE_FORMATS = ['table', 'md', 'csv', 'json'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

/** What stands in an empty cell of a table for people. */
export const NO_VALUE = '–';

/** A cell as people read it: rates as percentages, absent values as a dash. */
export function displayCell(column: TableColumn, value: JsonPrimitive, unit: MetricUnit | undefined = column.unit): string {
  if (value === null) return NO_VALUE;
  if (typeof value === 'number' && column.role === 'metric' && unit) return formatMetric(value, unit);
  return String(value);
}

function displayRows(table: DataTable): string[][] {
  return table.rows.map((r, row) => table.columns.map((c, i) => displayCell(c, r[i] ?? null, table.rowUnits?.[row] ?? c.unit)));
}

/** Numbers (and formatted numbers such as `61.09 %`, `+1.20 pp`) read best right-aligned. */
function isNumericColumn(table: DataTable, index: number): boolean {
  const column = table.columns[index]!;
  if (column.role === 'metric' || column.role === 'delta') return true;
  const cells = table.rows.map((r) => r[index] ?? null).filter((c) => c !== null);
  return cells.length > 0 && cells.every((c) => typeof c === 'number');
}

/** Columns padded to their widest cell, two spaces apart; numbers right-aligned. */
export function textTable(table: DataTable): string {
  const cells = [table.columns.map((c) => c.name), ...displayRows(table)];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => [...r[i]!].length)));
  const right = table.columns.map((_, i) => isNumericColumn(table, i));
  return cells
    .map((r) => r.map((cell, i) => (right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** GitHub-flavoured Markdown, numbers right-aligned; pastes into a README as is. */
export function markdownTable(table: DataTable): string {
  const escape = (text: string): string => text.replace(/\|/g, '\\|');
  const line = (cells: string[]): string => `| ${cells.map(escape).join(' | ')} |`;
  return [
    line(table.columns.map((c) => c.name)),
    `|${table.columns.map((_, i) => (isNumericColumn(table, i) ? '---:' : '---')).join('|')}|`,
    ...displayRows(table).map(line),
  ].join('\n');
}

/** RFC 4180 CSV with raw values (rates as fractions, full precision); empty where a value does not apply. */
export function csvTable(table: DataTable): string {
  const field = (value: JsonPrimitive): string => {
    if (value === null) return '';
    const text = String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [table.columns.map((c) => field(c.name)), ...table.rows.map((r) => table.columns.map((_, i) => field(r[i] ?? null)))].map((r) => r.join(',')).join('\n') + '\n';
}

/** Rows as objects keyed by column name, raw values; `unit` added where units vary by row. */
export function rowObjects(table: DataTable): Record<string, JsonPrimitive>[] {
  return table.rows.map((r, row) => ({
    ...Object.fromEntries(table.columns.map((c, i) => [c.name, r[i] ?? null])),
    ...(table.rowUnits?.[row] ? { unit: table.rowUnits[row] } : {}),
  }));
}

/** `{columns: [{name, role, unit?}], rows: [{<column name>: raw value}]}`. */
export function jsonTable(table: DataTable): string {
  return JSON.stringify({ columns: table.columns, rows: rowObjects(table) }, null, 2);
}

export function renderTable(table: DataTable, format: TableFormat): string {
  switch (format) {
    case 'table':
      return textTable(table);
    case 'md':
      return markdownTable(table);
    case 'csv':
      return csvTable(table).trimEnd();
    case 'json':
      return jsonTable(table);
  }
}
