/**
 * COPY through postgres.js streams, around two defects of postgres.js 3.4 (both open upstream):
 * - COPY TO: the socket is paused when the stream's buffer fills and resumed from its read(); if
 *   the buffer filled with the last rows, read() is never called again after the end and the
 *   connection waits forever (https://github.com/porsager/postgres/issues/917).
 * - COPY FROM: when the server rejects the data after the end (a foreign key, a constraint, a
 *   value that does not parse), the writable never finishes, so a pipeline into it hangs
 *   (https://github.com/porsager/postgres/issues/1173).
 */
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TransactionSql } from 'postgres';

/** Streams the output of `copy ... to stdout` into `consume`. */
export async function copyOut<T>(tx: TransactionSql, statement: string, consume: (rows: Readable) => Promise<T>): Promise<T> {
  const stream = await tx.unsafe(statement).readable();
  try {
    return await consume(stream);
  } finally {
    stream._read(0); // resumes the socket (issue 917); a no-op when it runs
  }
}

export class CopyInRefusedError extends Error {}

/** Streams `source` into `copy ... from stdin`; rejects when PostgreSQL refuses the data. */
export async function copyIn(tx: TransactionSql, statement: string, source: AsyncIterable<Buffer>): Promise<void> {
  const target = (await tx.unsafe(statement).writable()) as Writable;
  // Once the end of the data (CopyDone) is sent, a query queued behind the COPY is answered after
  // it: it fails when the COPY failed (the transaction is aborted), which the writable never says.
  let sent!: () => void;
  const ended = new Promise<void>((r) => { sent = r; });
  const final = target._final!.bind(target);
  target._final = (callback) => {
    final(callback);
    sent();
  };
  const loaded = pipeline(source, target);
  const probe = ended.then(() => tx`select 1`);
  loaded.catch(() => {});
  probe.catch(() => {});
  await Promise.race([loaded, probe.then(() => loaded, () => {
    throw new CopyInRefusedError('PostgreSQL refused the rows');
  })]);
}
