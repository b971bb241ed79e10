/**
 * The file `herald backup` writes and `herald restore` reads: one gzip stream (RFC 1952, whose
 * CRC-32 and length trailer catch a damaged or cut file) of UTF-8 lines:
 *
 *   HERALD-BACKUP 1                                    the magic line and the format version
 *   {"migrations":[...],"created_at":...,...}          the header (BackupHeader)
 *   {"table":"projects","columns":["id",...]}          then per table: its name and columns,
 *   <rows in COPY text format>                         its rows as COPY ... TO STDOUT wrote them,
 *   \.                                                 and COPY's end-of-data marker
 *   ...
 *   {"end":true,"rows":{"projects":3,...},...}         the trailer (BackupTrailer)
 *
 * COPY's text format escapes backslashes, newlines and carriage returns inside values
 * (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"), so every row is one line
 * and no row can be the line `\.`: the same framing as pg_dump's plain format.
 */
import { createGunzip, createGzip } from 'node:zlib';
import type { Readable, Writable } from 'node:stream';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';

export const backupFormatVersion = 1;
const magic = `HERALD-BACKUP ${backupFormatVersion}`;
const endOfData = '\\.';

export class BackupFormatError extends Error {}

export interface PartitionDef {
  name: string;
  parent: string;
  /** pg_get_expr(relpartbound): `FOR VALUES ...` or `DEFAULT`. */
  bound: string;
}

export interface BackupHeader {
  /** herald_migrations of the database, in order: the schema the rows belong to. */
  migrations: string[];
  created_at: string;
  postgres_version: string;
  /** settings.master_key_check: which master key sealed the provider secrets (null: none yet). */
  master_key_check: string | null;
  /** Partitions, parents first: rows are dumped through their root table, partitions recreated. */
  partitions: PartitionDef[];
}

export interface SequenceValue {
  sequence: string;
  last_value: string;
  is_called: boolean;
}

export interface BackupTrailer {
  end: true;
  /** Rows per table, checked on restore. */
  rows: Record<string, number>;
  sequences: SequenceValue[];
}

export interface TableStart {
  table: string;
  columns: string[];
}

const newline = 0x0a;

/** Writes a backup into `dest`, gzip'd. Call header, then table per table, then end. */
export class BackupWriter {
  private readonly gzip = createGzip();
  private readonly done: Promise<void>;

  constructor(dest: Writable) {
    this.done = pipeline(this.gzip, dest);
    this.done.catch(() => {}); // awaited by write() and end(); a failure there is the caller's error
  }

  private async write(chunk: string | Buffer): Promise<void> {
    if (!this.gzip.write(chunk)) await Promise.race([once(this.gzip, 'drain'), this.done]);
  }

  /** Stops writing after a failure; `dest` is destroyed with it. */
  abort(err: Error): void {
    this.gzip.destroy(err);
  }

  async header(h: BackupHeader): Promise<void> {
    await this.write(`${magic}\n${JSON.stringify(h)}\n`);
  }

  /** Copies one table's COPY text stream and returns its row count (its lines). */
  async table(start: TableStart, rows: AsyncIterable<Buffer>): Promise<number> {
    await this.write(JSON.stringify(start) + '\n');
    let count = 0;
    let last = newline;
    for await (const chunk of rows) {
      for (let i = chunk.indexOf(newline); i !== -1; i = chunk.indexOf(newline, i + 1)) count++;
      if (chunk.length) last = chunk[chunk.length - 1]!;
      await this.write(chunk);
    }
    if (last !== newline) throw new BackupFormatError(`COPY of ${start.table} did not end with a newline`);
    await this.write(endOfData + '\n');
    return count;
  }

  async end(t: Omit<BackupTrailer, 'end'>): Promise<void> {
    this.gzip.end(JSON.stringify({ end: true, ...t } satisfies BackupTrailer) + '\n');
    await this.done;
  }
}

/** Lines of a stream, without their newline; the last one flagged when the stream did not end with one. */
async function* lines(src: AsyncIterable<Buffer>): AsyncGenerator<{ line: Buffer; complete: boolean }> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of src) {
    const buf: Buffer = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let i = buf.indexOf(newline); i !== -1; i = buf.indexOf(newline, start)) {
      yield { line: buf.subarray(start, i), complete: true };
      start = i + 1;
    }
    rest = Buffer.from(buf.subarray(start));
  }
  if (rest.length) yield { line: rest, complete: false };
}

const batchBytes = 256 * 1024;
const newlineBuffer = Buffer.from('\n');

/** Reads a backup from `src`: header first, then sections in order, each table's rows read before the next. */
export class BackupReader {
  private readonly it: AsyncGenerator<{ line: Buffer; complete: boolean }>;

  constructor(src: Readable) {
    const gunzip = createGunzip();
    src.on('error', (err) => gunzip.destroy(err));
    this.it = lines(src.pipe(gunzip));
  }

  private async nextLine(what: string): Promise<Buffer> {
    const { value, done } = await this.it.next();
    if (done || !value.complete) throw new BackupFormatError(`the backup ends before ${what}: the file is incomplete`);
    return value.line;
  }

  private async json<T>(what: string): Promise<T> {
    const line = await this.nextLine(what);
    try {
      return JSON.parse(line.toString('utf8')) as T;
    } catch {
      throw new BackupFormatError(`the backup's ${what} is not valid: the file is damaged`);
    }
  }

  async header(): Promise<BackupHeader> {
    let first: string;
    try {
      first = (await this.nextLine('its first line')).toString('utf8');
    } catch (err) {
      // zlib's "incorrect header check": not a gzip file at all.
      if ((err as { code?: string }).code?.startsWith('Z_')) throw new BackupFormatError('this file is not a Herald backup (not gzip)');
      throw err;
    }
    if (first !== magic) {
      const v = /^HERALD-BACKUP (\d+)$/.exec(first);
      throw new BackupFormatError(v
        ? `this backup is in format ${v[1]}; this Herald reads format ${backupFormatVersion}: restore it with a newer Herald`
        : 'this file is not a Herald backup');
    }
    const h = await this.json<BackupHeader>('header');
    if (!Array.isArray(h.migrations) || !Array.isArray(h.partitions)) throw new BackupFormatError("the backup's header is not valid");
    return h;
  }

  /** The next table, or the trailer once every table was read. */
  async next(): Promise<TableStart | BackupTrailer> {
    const r = await this.json<Partial<TableStart & BackupTrailer>>('the next table or the end');
    if (r.end === true && r.rows && Array.isArray(r.sequences)) return r as BackupTrailer;
    if (typeof r.table === 'string' && Array.isArray(r.columns)) return r as TableStart;
    throw new BackupFormatError('the backup has a section it does not know: the file is damaged');
  }

  /** The current table's rows, as COPY text in batches of whole lines; `counted(n)` gets the row count. */
  async *rows(table: string, counted: (n: number) => void): AsyncGenerator<Buffer> {
    let batch: Buffer[] = [];
    let size = 0;
    let n = 0;
    for (;;) {
      const line = await this.nextLine(`the end of table ${table}`);
      if (line.length === 2 && line.toString('latin1') === endOfData) break;
      batch.push(line, newlineBuffer);
      size += line.length + 1;
      n++;
      if (size >= batchBytes) {
        yield Buffer.concat(batch);
        batch = [];
        size = 0;
      }
    }
    if (size) yield Buffer.concat(batch);
    counted(n);
  }
}
