/**
 * Splits a streamed NDJSON body into lines without holding more than one line (and one network
 * chunk) in memory. Splitting on the byte 0x0A is safe in UTF-8: it never occurs inside a character.
 */
import type { Readable } from 'node:stream';
import { ApiError } from './errors.js';

export async function* ndjsonLines(body: Readable, maxLineBytes: number): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  const line = (buf: Buffer): string => {
    lineNo++;
    if (buf.length > maxLineBytes) throw new ApiError('invalid_field', `line ${lineNo} is longer than ${maxLineBytes} bytes`);
    // U+0000 cannot be stored in PostgreSQL text, so such a line could not even be kept to report it.
    if (buf.includes(0)) throw new ApiError('invalid_field', `line ${lineNo} contains the byte 0x00, which cannot be stored`);
    const end = buf.length && buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
    return buf.toString('utf8', 0, end);
  };
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let data = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let at = data.indexOf(0x0a);
    while (at !== -1) {
      yield line(data.subarray(0, at));
      data = data.subarray(at + 1);
      at = data.indexOf(0x0a);
    }
    if (data.length > maxLineBytes) throw new ApiError('invalid_field', `line ${lineNo + 1} is longer than ${maxLineBytes} bytes`);
    rest = Buffer.from(data);
  }
  if (rest.length) yield line(rest);
}
