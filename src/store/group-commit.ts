/**
 * Application-level group commit: requests that arrive while a commit is in flight wait for it and
 * then share the next transaction. An idle server commits each request alone, at once; a busy one
 * pays one fsync (and one NOTIFY, whose commit-time lock serializes committers) per batch instead of
 * per request. Every caller still hears back only after its own rows are committed.
 * (shared/reference/reliability.md §1: "Batch many requests per transaction".)
 */
import type { Sql, TransactionSql } from 'postgres';

export interface GroupCommitOptions<T, R> {
  sql: Sql;
  /** Runs one batch inside one transaction; returns one result per item, in order. */
  run(tx: TransactionSql, items: T[]): Promise<R[]>;
  /** Items per transaction, so one batch stays a short transaction. */
  maxBatch: number;
  /** Transactions in flight at once (each holds a pooled connection). */
  maxConcurrent: number;
}

interface Pending<T, R> {
  item: T;
  resolve(r: R): void;
  reject(err: unknown): void;
}

export function createGroupCommit<T, R>(o: GroupCommitOptions<T, R>): (item: T) => Promise<R> {
  const waiting: Pending<T, R>[] = [];
  let inFlight = 0;

  const flush = () => {
    while (inFlight < o.maxConcurrent && waiting.length) {
      const batch = waiting.splice(0, o.maxBatch);
      inFlight++;
      o.sql
        .begin((tx) => o.run(tx, batch.map((p) => p.item)))
        .then(
          (results) => batch.forEach((p, i) => p.resolve((results as R[])[i]!)),
          // The whole transaction rolled back: nothing of any item was stored, each caller learns so.
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          inFlight--;
          flush();
        });
    }
  };

  return (item) =>
    new Promise<R>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      flush();
    });
}
