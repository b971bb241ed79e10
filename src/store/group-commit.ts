/**
 * Application-level group commit: requests that arrive while a commit is in flight wait for it and
 * then share the next commit. An idle server commits each request alone, at once; a busy one pays
 * one fsync (and one NOTIFY, whose commit-time lock serializes committers) per batch instead of
 * per request. Every caller still hears back only after its own rows are committed, and a batch
 * that fails fails every caller in it: its commit was all or nothing, so none of them was stored.
 * (shared/reference/reliability.md §1: "Batch many requests per transaction".)
 */
import type { Sql, TransactionSql } from 'postgres';

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

  const flush = () => {
    while (inFlight < o.maxConcurrent && waiting.length) {
      const batch = waiting.splice(0, o.maxBatch);
      inFlight++;
      // Called through a resolved promise, so a commit function that throws at once still rejects
      // the batch rather than escaping from the caller's push.
      Promise.resolve(batch.map((p) => p.item))
        .then((items) => o.commit(items))
        .then(
          (results) => batch.forEach((p, i) => p.resolve(results[i]!)),
          // The whole commit rolled back: nothing of any item was stored, each caller learns so.
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

/** A commit function running `run` in one transaction, for batches of several statements. */
export function inTransaction<T, R>(sql: Sql, run: (tx: TransactionSql, items: T[]) => Promise<R[]>): (items: T[]) => Promise<R[]> {
  return (items) => sql.begin((tx) => run(tx, items)) as Promise<R[]>;
}
