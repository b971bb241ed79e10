/**
 * Just enough MIME to take a report apart: a message's header fields, its Content-Type and
 * parameters, and the body parts of a multipart body, each decoded from its transfer encoding.
 *
 * Hand-written rather than taken from mailparser (already a dependency, used by the sandbox): its
 * parsers fold every text-like part, message/delivery-status and message/feedback-report included,
 * into one `text` with the human-readable part, so the machine-readable part cannot be told from a
 * first part that merely quotes "Action: failed"; and src/domain/ takes no packages. A report
 * (RFC 6522 §3) is one flat multipart of two or three parts whose fields are plain header fields
 * (RFC 3464 §2.1, RFC 5965 §3.1), so this is small: no nesting is followed (the returned message
 * of a report is read for its header fields only), no attachment is decoded.
 */

/** Header fields in order, names lower-cased, values unfolded (RFC 5322 §2.2.3) and trimmed. */
export type Fields = [name: string, value: string][];

export interface MimePart {
  fields: Fields;
  /** The media type, lower-cased (text/plain when the part has none: RFC 2045 §5.2). */
  type: string;
  params: Record<string, string>;
  /** The body, decoded from base64 or quoted-printable (RFC 2045 §6.7, §6.8), as UTF-8 text. */
  body: string;
}

/**
 * The header fields of a header block: one field per line, a line that starts with white space
 * continuing the one before (RFC 5322 §2.2.3). A line that is no field is skipped.
 */
export function parseFields(block: string): Fields {
  const out: Fields = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) {
      out[out.length - 1]![1] = `${out[out.length - 1]![1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    out.push([name, line.slice(colon + 1).trim()]);
  }
  return out;
}

/** The first value of a field, or undefined. */
export const field = (fields: Fields, name: string): string | undefined => fields.find(([n]) => n === name)?.[1];

/** Every value of a field, in order (some report fields may repeat: RFC 5965 §3.2). */
export const fieldsNamed = (fields: Fields, name: string): string[] => fields.filter(([n]) => n === name).map(([, v]) => v);

/** Splits a message or body part into its header block and its body, at the first empty line. */
export function splitHeaderBody(text: string): { header: string; body: string } {
  const empty = /^\r?\n/.exec(text); // a part with no header fields
  if (empty) return { header: '', body: text.slice(empty[0].length) };
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { header: text, body: '' };
  return { header: text.slice(0, m.index), body: text.slice(m.index + m[0].length) };
}

/**
 * A Content-Type value: `type/subtype` lower-cased and its parameters (RFC 2045 §5.1), names
 * lower-cased, values unquoted. Parameter continuations (RFC 2231) are not joined: no report field
 * Herald reads is long enough to need them.
 */
export function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  if (value === undefined || value.trim() === '') return { type: 'text/plain', params: {} };
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/g;
  const rest = semi < 0 ? '' : value.slice(semi);
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  }
  return { type, params };
}

/** A part's body decoded from its Content-Transfer-Encoding; 7bit, 8bit and binary are as they are. */
function decodeBody(body: string, encoding: string | undefined): string {
  switch (encoding?.trim().toLowerCase()) {
    case 'base64': return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('utf8');
    case 'quoted-printable': {
      // A soft line break is '=' at the end of a line; '=XX' is one octet (RFC 2045 §6.7).
      const bytes = Buffer.from(body.replace(/[ \t]+(\r?\n)/g, '$1').replace(/=\r?\n/g, ''), 'latin1');
      const out: number[] = [];
      for (let i = 0; i < bytes.length; i++) {
        const hex = bytes[i] === 0x3d ? bytes.subarray(i + 1, i + 3).toString('latin1') : '';
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) { out.push(parseInt(hex, 16)); i += 2; } else out.push(bytes[i]!);
      }
      return Buffer.from(out).toString('utf8');
    }
    default: return body;
  }
}

/** One entity (a message or a body part) read from its text. */
export function parseEntity(text: string): MimePart {
  const { header, body } = splitHeaderBody(text);
  const fields = parseFields(header);
  const { type, params } = parseContentType(field(fields, 'content-type'));
  return { fields, type, params, body: type.startsWith('multipart/') ? body : decodeBody(body, field(fields, 'content-transfer-encoding')) };
}

/**
 * The body parts of a multipart body with this boundary (RFC 2046 §5.1.1): a delimiter line is
 * `--boundary` (with white space after it allowed), the close delimiter `--boundary--`; what comes
 * before the first delimiter (the preamble) and after the close one (the epilogue) is no part. The
 * line break before a delimiter belongs to the delimiter. Undefined when no delimiter is found.
 */
export function multipartParts(body: string, boundary: string): MimePart[] | undefined {
  const lines = body.split(/\r?\n/);
  const open = `--${boundary}`;
  const parts: string[][] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    if (line.startsWith(open)) {
      const rest = line.slice(open.length);
      if (rest.trim() === '' || rest.trimEnd() === '--') {
        if (current) parts.push(current);
        current = rest.trimEnd() === '--' ? undefined : [];
        if (rest.trimEnd() === '--') break;
        continue;
      }
    }
    current?.push(line);
  }
  if (current) parts.push(current); // a body cut before its close delimiter keeps its last part
  if (!parts.length) return undefined;
  return parts.map((p) => parseEntity(p.join('\r\n')));
}
