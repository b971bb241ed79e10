/**
 * The outbox relay: moves committed jobs from the PostgreSQL outbox (relay/outbox.ts) to the
 * transport, at least once and in order per relay.
 *
 * A pass locks a batch of due rows (`FOR UPDATE SKIP LOCKED`, so several relays share the work),
 * publishes each with the row id as its message id (JetStream de-duplicates a re-publish within the
 * stream's duplicate window), waits for every acknowledgement, then deletes the acknowledged rows in
 * one statement and commits. A relay that dies between the acknowledgements and the commit leaves
 * its rows in place and unlocked; the next pass publishes them again, and the stream drops them as
 * duplicates. Rows whose publish failed stay, and the relay backs off.
 *
 * Idle, the relay sleeps: LISTEN/NOTIFY wakes it on every enqueuing commit, a timer at the next
 * delayed row's run_at, the transport's reconnect when it was down. While NATS is unreachable the
 * API keeps committing; the backlog grows here and drains once NATS answers.
 *
 * Started by the JetStream queue for now; the `relay` process role will run it on its own.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { retryDelayMs } from '../domain/retry.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { deleteRows, hasDue, msUntilNextDue, outboxChannel, takeDue, type OutboxRow, type TakeOptions } from './outbox.js';

export interface PublishResult {
  id: string;
  ok: boolean;
  /** The transport had it already (a re-publish inside the duplicate window). */
  duplicate?: boolean;
  error?: unknown;
}

/** Where the relay sends rows. queue/jetstream/publisher.ts is the JetStream one. */
export interface OutboxPublisher {
  /** True while the transport can take messages; the relay does not try while it is false. */
  ready(): boolean;
  /** Calls back each time the transport becomes ready (first connect, every reconnect). */
  onReady(cb: () => void): () => void;
  /** Publishes every row and waits for its acknowledgement; one result per row, in order. */
  publish(rows: OutboxRow[]): Promise<PublishResult[]>;
}

export interface OutboxRelayOptions {
  sql: Sql;
  log: Logger;
  publisher: OutboxPublisher;
  /** Rows per pass: one transaction, one pipelined burst of publishes, one delete. */
  batchSize?: number;
  /** How long a flush waits for rows another relay holds (that relay is publishing them). */
  lockWaitMs?: number;
  /** Test seam, after the acknowledgements and before the delete: throwing here is a relay that
   *  died between the two. */
  afterPublish?: (results: PublishResult[]) => Promise<void> | void;
  /** When rows are due and how long the relay backs off. */
  clock?: Clock | undefined;
}

export interface OutboxRelay {
  /** Starts the background loop (LISTEN, passes, back-off). */
  start(): void;
  /**
   * Relays one batch of due rows now (of one topic if given), waiting for rows another relay is
   * publishing: afterwards every row committed before the call is in the transport (up to a batch).
   * A claim calls it so that work committed just before is visible at once. 0 when the transport is
   * down, publishing is backing off after a failure, or nothing is due.
   */
  flush(topic?: string): Promise<number>;
  close(): Promise<void>;
}

/** A pass's time goes mostly to waiting (the take, the PubAcks, the delete and commit round trips),
 *  so the rows per pass set a relay's rate. Beside a busy API, 256 moved about 6,000 rows/s and two
 *  workers' fan-out left ~2,500 rows waiting on average (bench/scaleout.ts); 1024 left ~750. A
 *  claim's flush may then wait for up to that many publishes. */
const defaultBatchSize = 1024;
/** Back-off while publishing fails: 250 ms doubling to 30 s, jittered, so an outage costs a
 *  request every half minute per relay, not a storm, and a blip is over in a second. */
const failureBackoff = { baseMs: 250, maxMs: 30_000 };
/** Safety net for a NOTIFY lost while the LISTEN connection was down (postgres.js re-listens and
 *  we run a pass then, so this is belt and braces). */
const idleCheckMs = 60_000;
/** Rows due but not taken are being published by another relay; look again shortly, in case it dies. */
const lockedRecheckMs = 1_000;

export class RelayPublishError extends Error {
  override name = 'RelayPublishError';
}

export function createOutboxRelay(o: OutboxRelayOptions): OutboxRelay {
  const { sql, log, publisher } = o;
  const batchSize = o.batchSize ?? defaultBatchSize;
  const lockWaitMs = o.lockWaitMs ?? 10_000;
  const clock = o.clock ?? systemClock;
  const now = () => new Date(clock.now());
  let closed = false;
  let started = false;
  let pending = true;
  /** Counts pokes, so one that lands while the loop decides how long to sleep is not slept through. */
  let pokes = 0;
  let wake: (() => void) | undefined;
  let failures = 0;
  let backoffUntil = 0;
  let loop: Promise<void> | undefined;
  let listening: Promise<{ unlisten(): Promise<void> } | undefined> | undefined;
  let offReady: (() => void) | undefined;

  const poke = () => {
    pending = true;
    pokes++;
    wake?.();
  };

  /** One transaction: take, publish, delete what was acknowledged. Returns the rows taken. */
  const relayOnce = async (take: Omit<TakeOptions, 'now'>): Promise<number> => {
    let failed: PublishResult[] = [];
    const taken = await sql.begin(async (tx) => {
      // This transaction only deletes rows the transport has acknowledged, so its commit need not
      // wait for the WAL flush (an fsync per pass): a delete PostgreSQL loses in a crash brings its
      // rows back, and the next pass publishes them again under the same message ids, which the
      // stream drops (or, past its duplicate window, the idempotent consumer). Sent in one round
      // trip with the take: postgres.js pipelines queries issued together.
      const [, rows] = await Promise.all([
        take.waitForLocked
          ? tx`select set_config('synchronous_commit', 'off', true), set_config('lock_timeout', ${`${lockWaitMs}ms`}, true)`
          : tx`select set_config('synchronous_commit', 'off', true)`,
        takeDue(tx, { ...take, now: now() }),
      ]);
      if (!rows.length) return 0;
      const results = await publisher.publish(rows);
      await o.afterPublish?.(results);
      failed = results.filter((r) => !r.ok);
      await deleteRows(tx, results.filter((r) => r.ok).map((r) => r.id));
      const dupes = results.filter((r) => r.duplicate).length;
      if (dupes) log.info({ duplicates: dupes }, 'relay re-published jobs the stream already had (a relay died after publishing)');
      return rows.length;
    });
    if (failed.length) {
      throw new RelayPublishError(`${failed.length} of ${taken} outbox rows were not acknowledged`, { cause: failed[0]!.error });
    }
    return taken;
  };

  const succeeded = () => {
    if (!failures) return;
    log.info({ failures }, 'relay publishing again; the outbox backlog is draining');
    failures = 0;
    backoffUntil = 0;
    poke();
  };
  /** Shared by the loop and flushes, so claims do not hammer a transport the loop is backing off from. */
  const failed = (err: unknown) => {
    failures++;
    backoffUntil = clock.now() + retryDelayMs(failures, undefined, failureBackoff);
    // The first failure and then every tenth: an outage is visible without flooding the log.
    if (failures === 1 || failures % 10 === 0) log.warn({ err, failures }, 'relay pass failed; jobs stay in the outbox, retrying');
  };

  const pass = async () => {
    for (;;) {
      const n = await relayOnce({ limit: batchSize, waitForLocked: false });
      if (n < batchSize || closed) return;
    }
  };

  const nextWakeMs = async (): Promise<number> => {
    if (pending) return publisher.ready() ? Math.max(0, backoffUntil - clock.now()) : idleCheckMs;
    const ms = await msUntilNextDue(sql, now()).catch((err: unknown) => {
      log.warn({ err }, 'relay could not read the outbox; looking again shortly');
      return lockedRecheckMs;
    });
    if (ms === undefined) return idleCheckMs;
    if (ms <= 0) return lockedRecheckMs;
    return Math.min(ms, idleCheckMs);
  };

  const run = async () => {
    while (!closed) {
      if (pending && publisher.ready() && clock.now() >= backoffUntil) {
        pending = false;
        try {
          await pass();
          succeeded();
        } catch (err) {
          failed(err);
          pending = true;
        }
        continue;
      }
      const seen = pokes;
      const ms = await nextWakeMs();
      if (closed) break;
      if (pokes !== seen) continue;
      const timer = new AbortController();
      const timedOut = await new Promise<boolean>((resolve) => {
        void clock.sleep(ms, timer.signal).then(() => resolve(true));
        wake = () => resolve(false);
      });
      timer.abort();
      wake = undefined;
      if (timedOut) pending = true;
    }
  };

  // Flushes of one topic share a run that has not started yet: it starts after every caller
  // committed, so it sees their rows (and a burst of claims costs one pass, not one each).
  const flights = new Map<string, { queued: Promise<number> | undefined; tail: Promise<unknown> }>();
  const coalesce = (key: string, fn: () => Promise<number>): Promise<number> => {
    let f = flights.get(key);
    if (!f) flights.set(key, (f = { queued: undefined, tail: Promise.resolve() }));
    if (f.queued) return f.queued;
    const flight = f;
    const run = flight.tail.catch(() => undefined).then(() => {
      flight.queued = undefined;
      return fn();
    });
    flight.queued = run;
    flight.tail = run;
    return run;
  };

  return {
    start() {
      if (started) return;
      started = true;
      listening = sql.listen(outboxChannel, poke, poke).catch((err: unknown) => {
        log.error({ err }, 'relay cannot LISTEN; it will look at the outbox every minute');
        return undefined;
      });
      offReady = publisher.onReady(() => {
        backoffUntil = 0;
        poke();
      });
      loop = run();
    },
    async flush(topic) {
      if (closed || !publisher.ready() || clock.now() < backoffUntil) return 0;
      if (!(await hasDue(sql, now(), topic))) return 0;
      return coalesce(topic ?? '', async () => {
        try {
          const n = await relayOnce({ topic, limit: batchSize, waitForLocked: true });
          if (n) succeeded();
          return n;
        } catch (err) {
          if (err instanceof RelayPublishError) failed(err);
          throw err;
        }
      });
    },
    async close() {
      closed = true;
      wake?.();
      offReady?.();
      await loop;
      const l = await listening;
      await l?.unlisten().catch(() => undefined);
    },
  };
}
