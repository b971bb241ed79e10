/**
 * Application-level group commit: requests that arrive while a commit is in flight wait for it and
 * then share the next commit. An idle server commits each request alone, at once; a busy one pays
 * one fsync (and one NOTIFY, whose commit-time lock serializes committers) per batch instead of
 * per request. Every caller still hears back only after its own rows are committed.
 *
 * A batch is all or nothing, so one caller's bad item must not fail the others sharing its
 * commit: when a commit fails because of the data (a value or constraint PostgreSQL refuses), the
 * batch is halved and each half committed on its own, down to the item at fault, which alone is
 * refused. When it fails because of the database (down, overloaded, timed out), every caller of the
 * batch hears so at once: retrying split would multiply the load on a database already failing.
 */
import type { Sql, TransactionSql } from 'postgres';
import { isDatabaseFailure } from './database-errors.js';

export interface GroupCommitOptions<T, R> {
  /**
   * Makes one batch durable, all or nothing, and returns one result per item, in order. It
   * resolves only once the batch is committed: see inTransaction, or a single statement, which
   * PostgreSQL commits on its own before it answers.
   */
  commit(items: T[]): Promise<R[]>;
  /** Items per commit, so one batch stays a short transaction. */
  maxBatch: number;
  /** Commits in flight at once (each holds a pooled connection). */
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

  /**
   * Commits `batch`, and on a failure caused by its data commits each half again, in turn. Re-running
   * them is safe: the failed commit rolled back every item of it, so none was stored, and each is
   * stored once by the commit that succeeds. An ambiguous end (the connection lost during COMMIT)
   * is a connection failure, never retried here. With k bad items among n, this costs at most
   * about 2k·log2(n) more commits, only when something was refused.
   */
  const settle = async (batch: Pending<T, R>[]): Promise<void> => {
    let results: R[];
    try {
      // Inside the try, so a commit function that throws at once rejects the batch rather than escaping.
      results = await o.commit(batch.map((p) => p.item));
    } catch (err) {
      if (batch.length === 1 || isDatabaseFailure(err)) {
        // Nothing of any item was stored; each caller learns so.
        batch.forEach((p) => p.reject(err));
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await settle(batch.slice(0, half));
      await settle(batch.slice(half));
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]!));
  };

  const flush = () => {
    while (inFlight < o.maxConcurrent && waiting.length) {
      const batch = waiting.splice(0, o.maxBatch);
      inFlight++;
      void settle(batch).finally(() => {
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

/** A commit function running `run` in one transaction, for batches of several statements. */
export function inTransaction<T, R>(sql: Sql, run: (tx: TransactionSql, items: T[]) => Promise<R[]>): (items: T[]) => Promise<R[]> {
  return (items) => sql.begin((tx) => run(tx, items)) as Promise<R[]>;
}
