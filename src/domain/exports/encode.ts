/**
 * The rows of an export as bytes: CSV (RFC 4180) or NDJSON (one JSON object per line,
 * https://github.com/ndjson/ndjson-spec). Pure: the worker hands in each page's rows.
 */

export type ExportFormat = 'csv' | 'ndjson';
export type Cell = string | number | boolean | null | undefined | Date | Record<string, unknown> | unknown[];

/**
 * One CSV field (RFC 4180 §2: a field holding a comma, a quote or a line break is quoted, quotes
 * doubled). A string that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or
 * a carriage return) is prefixed with a quote: profile attributes come from end users' devices, and
 * an export is opened in Excel (https://owasp.org/www-community/attacks/CSV_Injection). Numbers are
 * written as they are, so -5 stays a number.
 */
export function csvField(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let s = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : value;
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 §2: lines end in CRLF. */
export const csvLine = (cells: readonly Cell[]): string => cells.map(csvField).join(',') + '\r\n';

/** A page of rows in the format; `header` (CSV only) on the file's first page. */
export function encodePage(format: ExportFormat, columns: readonly string[], rows: readonly Record<string, Cell>[], header: boolean): string {
  if (format === 'ndjson') {
    let out = '';
    for (const r of rows) out += JSON.stringify(r, (_k, v: unknown) => (v === undefined ? null : v)) + '\n';
    return out;
  }
  let out = header ? csvLine(columns) : '';
  for (const r of rows) out += csvLine(columns.map((c) => cellAt(r, c)));
  return out;
}

/** `attributes.tier` reads the row's attributes object; other columns are the row's own. */
function cellAt(row: Record<string, Cell>, column: string): Cell {
  if (!column.startsWith('attributes.') || column in row) return row[column];
  const attributes = row.attributes as Record<string, unknown> | null | undefined;
  return attributes?.[column.slice('attributes.'.length)] as Cell;
}
