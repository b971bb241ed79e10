/**
 * The work queue: the one small interface every process moves work through. Backends live in
 * their own folders (postgres/ now, jetstream/ later) and all pass test/support/queue-conformance.ts.
 *
 * Contract:
 * - `enqueue` runs inside the caller's PostgreSQL transaction: the jobs exist if and only if that
 *   transaction commits (no delivery before commit, no lost job after it).
 * - `claim` hands each ready job to one consumer for a lease; a job neither acked, retried nor
 *   dead-lettered before its lease ends is handed out again (a crashed worker loses nothing).
 *   Delivery is at-least-once: consumers are idempotent.
 * - `attempt` counts claims, starting at 1; after `maxAttempts` the consumer dead-letters the job.
 * - No caller may depend on which backend runs.
 */
import type { Sql, TransactionSql } from 'postgres';

export interface NewJob<P = unknown> {
  topic: string;
  payload: P;
  /** Earliest time the job may run; default now. */
  runAt?: Date;
}

export interface Job<P = unknown> {
  id: string;
  topic: string;
  payload: P;
  /** 1 on the first claim, 2 on the second... */
  attempt: number;
  maxAttempts: number;
}

export interface ClaimOptions {
  /** Upper bound on jobs returned. */
  max: number;
  /** How long the claim holds before the job is handed out again. */
  leaseMs: number;
  /** Wait up to this long for a job when none is ready (woken early by new work, never polling
   *  busily while idle). 0 returns at once. */
  waitMs: number;
  signal?: AbortSignal;
}

export interface QueueStats {
  topic: string;
  /** Jobs waiting or leased. */
  depth: number;
  /** Age in seconds of the oldest ready job, 0 when none. */
  oldestAgeSeconds: number;
  deadLettered: number;
}

export interface WorkQueue {
  /**
   * True when a job can vanish after the transaction that enqueued it committed: a backend outside
   * PostgreSQL that may lose a write it acknowledged (JetStream on nats-server 2.9 acks before
   * fsync; nats-io/nats-server#4483 added sync_interval in 2.10). The reconciler then re-enqueues work PostgreSQL shows unfinished.
   */
  readonly mayLoseJobs: boolean;
  /** Which backend this is, for an operator to read (the dashboard's health screen); no caller branches on it. */
  readonly backend: 'postgres' | 'jetstream';
  /** Adds jobs inside the caller's transaction. */
  enqueue(tx: Sql | TransactionSql, jobs: NewJob[]): Promise<void>;
  claim(topic: string, opts: ClaimOptions): Promise<Job[]>;
  /** Done: the jobs will never be handed out again. */
  ack(jobs: Job[]): Promise<void>;
  /** Hand the job out again after `delayMs`, recording why. */
  retry(job: Job, delayMs: number, error: string): Promise<void>;
  /** Give up: move the job to the dead-letter table with its last error. */
  deadLetter(job: Job, error: string): Promise<void>;
  stats(): Promise<QueueStats[]>;
  /** True when the backend answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
