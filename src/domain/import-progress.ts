/**
 * How `herald import` shows a bulk job's progress (GET /v1/jobs/{id}): a bar redrawn in place on a
 * terminal, a plain line per change elsewhere (a log file or CI keeps every line). And the CSV
 * header and record to the profile operation a line of a CSV profile file becomes.
 */
import { csvFields } from './audience-ids.js';

export interface JobProgress {
  state: 'queued' | 'running' | 'done';
  total_lines: number;
  processed_lines: number;
  failed_lines: number;
}

const percent = (p: JobProgress) => (p.total_lines ? Math.floor((100 * p.processed_lines) / p.total_lines) : 100);

/** `[##########----------]  50% 500/1000 lines, 2 failed (running)`, `width` characters of bar. */
export function progressBar(p: JobProgress, width = 30): string {
  const filled = p.total_lines ? Math.min(width, Math.floor((width * p.processed_lines) / p.total_lines)) : width;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(percent(p)).padStart(3)}% ${p.processed_lines}/${p.total_lines} lines, ${p.failed_lines} failed (${p.state})`;
}

/** `job J: running, 500 of 1000 lines (50%), 2 failed`. */
export function progressLine(jobId: string, p: JobProgress): string {
  return `job ${jobId}: ${p.state}, ${p.processed_lines} of ${p.total_lines} lines (${percent(p)}%), ${p.failed_lines} failed`;
}

/**
 * A CSV profile file: a header row naming a `custom_id` column and attribute columns; each record
 * becomes `{"identifiers": {"custom_id"}, "attributes": {column: value}}`, empty fields left out
 * (an attribute is cleared with JSON's null, which a CSV cannot say: use NDJSON for that).
 */
export function csvProfileReader(header: string): (line: string, lineNo: number) => string | undefined {
  const columns = csvFields(header, 1);
  const idAt = columns.indexOf('custom_id');
  if (idAt === -1) throw new Error('line 1: the CSV header names no custom_id column');
  return (line, lineNo) => {
    if (line.trim() === '') return undefined;
    const fields = csvFields(line, lineNo);
    if (fields.length !== columns.length) throw new Error(`line ${lineNo}: ${fields.length} fields, the header names ${columns.length}`);
    const attributes: Record<string, string> = {};
    columns.forEach((c, i) => { if (i !== idAt && fields[i] !== '') attributes[c] = fields[i]!; });
    return JSON.stringify({ identifiers: { custom_id: fields[idAt] }, attributes });
  };
}
