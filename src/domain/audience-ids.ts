/**
 * The lines of an audience upload: NDJSON, one `{"custom_id": "…"}` object a line, or CSV (RFC
 * 4180, https://www.rfc-editor.org/rfc/rfc4180) whose header row names a `custom_id` column. A
 * reader is made per upload (a CSV reader remembers its header); it answers the custom_id a line
 * holds, undefined for a line that holds none (blank, or the header), and throws an IdLineError
 * naming the line for anything else, so a bad upload is refused before any of it applies.
 */
import { limits } from './profile-operations.js';
import { isStorableText } from './storable.js';

export type UploadFormat = 'ndjson' | 'csv';

export class IdLineError extends Error {}

/** The longest custom_id a profile may have, so an audience member can match one. */
export const maxCustomIdLength = limits.customIdLength;

function checked(id: unknown, lineNo: number): string {
  if (typeof id !== 'string' || id.length < 1 || id.length > maxCustomIdLength) {
    throw new IdLineError(`line ${lineNo}: custom_id must be a string of 1 to ${maxCustomIdLength} characters`);
  }
  if (!isStorableText(id)) throw new IdLineError(`line ${lineNo}: custom_id holds U+0000 or a lone surrogate, which cannot be stored`);
  return id;
}

/** One CSV record on one line: fields split on commas, quoted fields with "" for a quote. */
export function csvFields(line: string, lineNo: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q === -1) throw new IdLineError(`line ${lineNo}: a quoted field is not closed (a field may not span lines)`);
        value += line.slice(i, q);
        if (line[q + 1] === '"') { value += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ',') throw new IdLineError(`line ${lineNo}: a quoted field must end at a comma or the line's end`);
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma === -1) { fields.push(line.slice(i)); return fields; }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

export function idLineReader(format: UploadFormat): (line: string, lineNo: number) => string | undefined {
  if (format === 'ndjson') {
    return (line, lineNo) => {
      if (!line.trim()) return undefined;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new IdLineError(`line ${lineNo}: is not valid JSON`);
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IdLineError(`line ${lineNo}: must be an object {"custom_id": "…"}`);
      const extra = Object.keys(v).find((k) => k !== 'custom_id');
      if (extra !== undefined) throw new IdLineError(`line ${lineNo}: ${JSON.stringify(extra).slice(0, 100)} is not a known field`);
      return checked((v as { custom_id?: unknown }).custom_id, lineNo);
    };
  }
  let column = -1;
  return (line, lineNo) => {
    if (!line.trim()) return undefined;
    const fields = csvFields(line.charCodeAt(0) === 0xfeff ? line.slice(1) : line, lineNo);
    if (column === -1) {
      column = fields.findIndex((f) => f.trim() === 'custom_id');
      if (column === -1) throw new IdLineError(`line ${lineNo}: the header row must name a custom_id column`);
      return undefined;
    }
    if (column >= fields.length) throw new IdLineError(`line ${lineNo}: has no custom_id field (column ${column + 1})`);
    return checked(fields[column], lineNo);
  };
}
