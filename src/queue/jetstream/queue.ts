/**
 * The work queue on NATS JetStream, with PostgreSQL as the record of truth (nats-io/nats-server#4483: the
 * 2.9.10 server cannot fsync before it acks).
 *
 * - `enqueue` writes the jobs to the PostgreSQL outbox inside the caller's transaction and NOTIFYs
 *   the relay, which fires on commit; nothing reaches NATS before the commit.
 * - The relay (relay/outbox-relay.ts, started here for now) publishes a batch of committed rows to
 *   the job stream at once (publisher.ts) with Nats-Msg-Id = job id, waits for the PubAcks, then
 *   deletes the acknowledged rows in one statement. Delayed jobs wait in the outbox until their run_at.
 * - `claim` pulls from the topic's durable consumer (pull.ts) and starts a lease (leases.ts). When
 *   the stream cannot fill the claim, it relays its topic's committed rows (so work committed just
 *   before is visible at once) and pulls again.
 * - `ack` acks (plain publishes and one PING per batch: acks.ts says why that is enough), `retry`
 *   naks with a delay, `deadLetter` writes dead_jobs (the PostgreSQL backend's table) and then
 *   terms; naks and terms wait for the server's confirmation. All three are fenced by the lease.
 *
 * Streams and consumers: streams.ts. Server versions: features.ts. Connection: link.ts, job-stream.ts.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import type { Msg } from '@nats-io/transport-node';
import { uuidv7 } from '../../domain/ids.js';
import type { ClaimOptions, Job, NewJob, QueueStats, WorkQueue } from '../queue.js';
import { createOutboxRelay, type OutboxRelayOptions } from '../../relay/outbox-relay.js';
import { insertOutbox } from '../../relay/outbox.js';
import type { NatsConn } from './link.js';
import { openJobStream, type JobStreamOptions } from './job-stream.js';
import { createLeases, leaseKey } from './leases.js';
import { parseAckSubject, pull, PullError } from './pull.js';
import { ackAll, confirm, nakBody } from './acks.js';
import { createdAtHeader, jobNames, msgIdHeader } from './names.js';
import { defaultConsumerSettings, ensureTopicConsumer, topicConsumerConfig } from './streams.js';
import { jetStreamPublisher } from './publisher.js';
import { jetStreamStats } from './stats.js';
import { systemClock, type Clock } from '../../domain/clock.js';

export interface JetStreamQueueOptions extends JobStreamOptions {
  /** The record of truth: the outbox and dead_jobs live here. */
  sql: Sql;
  log: Logger;
  /** Claims of one job before its consumer must dead-letter it. */
  maxAttempts: number;
  /** The consumers' ack_wait: how soon a claimer that died is replaced (leases.ts); default 30 s. */
  ackWaitMs?: number;
  /** Topics whose consumers are created (or updated) at start and after every reconnect; any
   *  other topic gets its consumer at its first claim. */
  topics?: string[];
  /** Run the outbox relay in this process (default true); false once a `relay` role runs it
   *  (queue/jetstream/relay-process.ts). A claim the stream cannot fill relays its own topic's rows
   *  either way. */
  relay?: boolean;
  relayOptions?: Pick<OutboxRelayOptions, 'batchSize' | 'afterPublish'>;
  /** Times leases, run_at and the relay; a retry's delay is the server's (a nak with a delay). */
  clock?: Clock | undefined;
}

/**
 * A job handed out this many times past maxAttempts never got an ack, retry or dead letter: its
 * claimers die on it (a poison job). The queue dead-letters it instead of handing it out again,
 * the safety net a finite max_deliver would give without depending on an advisory (streams.ts).
 */
const crashLoopMargin = 3;
/** What the server needs around a payload: the subject, our headers and JetStream's. */
const headerRoomBytes = 4_096;

/**
 * The JetStream backend of the work queue. Resolves once NATS answered and the stream is in place,
 * or after `connectWaitMs` without NATS (enqueue works, claims wait for it); rejects when the
 * existing stream's configuration would lose jobs.
 */
export async function createJetStreamQueue(opts: JetStreamQueueOptions): Promise<WorkQueue> {
  const { sql, maxAttempts } = opts;
  const clock = opts.clock ?? systemClock;
  const log = opts.log.child({ part: 'jetstream-queue' });
  const ackWaitMs = opts.ackWaitMs ?? defaultConsumerSettings.ackWaitMs;
  const names = jobNames(opts.streamPrefix ?? 'herald');
  /** Consumers known to exist on the current connection (forgotten after every (re)connect). */
  const consumers = new Map<string, Promise<void>>();
  const ensureConsumer = (conn: NatsConn, topic: string): Promise<void> => {
    let p = consumers.get(topic);
    if (!p) {
      p = ensureTopicConsumer(conn.jsm, names.stream, topicConsumerConfig(names, topic, { ackWaitMs }, conn.features));
      consumers.set(topic, p);
      p.catch(() => consumers.delete(topic));
    }
    return p;
  };
  for (const t of opts.topics ?? []) names.subject(t);

  const { link, timeoutMs } = await openJobStream(opts, log, async (c) => {
    consumers.clear();
    await Promise.all((opts.topics ?? []).map((t) => ensureConsumer(c, t)));
  });
  const relay = createOutboxRelay({ sql, log, clock, publisher: jetStreamPublisher(link, names, timeoutMs), ...opts.relayOptions });
  const leases = createLeases({ nc: () => link.current()?.nc, ackWaitMs, log, clock });
  if (opts.relay !== false) relay.start();

  const connected = (what: string): NatsConn => {
    const conn = link.current();
    if (!conn) throw new Error(`NATS is not connected: cannot ${what}; the jobs are handed out again after ack_wait`);
    return conn;
  };

  /** dead_jobs first, then the term: a crash in between hands the job out again, and dead-lettering
   *  it a second time changes nothing (on conflict do nothing). */
  const bury = async (conn: NatsConn, reply: () => string | undefined, job: Job, createdAtMs: number, error: string) => {
    await sql`
      insert into dead_jobs (id, topic, payload, attempts, last_error, created_at)
      values (${job.id}, ${job.topic}, ${JSON.stringify(job.payload)}::text::jsonb, ${job.attempt}, ${error}, ${new Date(createdAtMs)})
      on conflict (id) do nothing`;
    const r = reply();
    if (r) await confirm(conn.nc, r, '+TERM', timeoutMs);
  };

  const deadLetter = async (job: Job, error: string): Promise<void> => {
    const key = leaseKey(job);
    const held = leases.peek(key);
    if (!held) return log.debug({ id: job.id, attempt: job.attempt }, 'dead letter of a job whose lease ended: ignored');
    // If the lease runs out during the insert, the job comes back and its next claimer dead-letters it again.
    await bury(connected('dead-letter'), () => leases.take(key)?.reply, job, held.createdAtMs, error);
  };

  /** Up to `max` messages of the topic, waiting up to `waitMs` for the first. */
  const pullJobs = async (conn: NatsConn, topic: string, max: number, waitMs: number, signal: AbortSignal | undefined): Promise<Msg[]> => {
    try {
      return await pull(conn.nc, names.stream, names.consumer(topic), { max, waitMs, signal, lost: conn.lost });
    } catch (err) {
      // The consumer (or the stream) is gone: make sure of both before the next claim.
      if (err instanceof PullError && (err.code === 503 || err.code === 409)) {
        consumers.delete(topic);
        if (err.code === 503) link.recheck();
      }
      throw err;
    }
  };

  /** Turns pulled messages into jobs under one lease; `receivedAt` is when the pull returned them. */
  const toJobs = async (conn: NatsConn, topic: string, msgs: Msg[], leaseMs: number, receivedAt: number): Promise<Job[]> => {
    const batch = new Map<string, { reply: string; topic: string; createdAtMs: number }>();
    const jobs: Job[] = [];
    const poison: { job: Job; reply: string; createdAtMs: number }[] = [];
    for (const m of msgs) {
      const info = parseAckSubject(m.reply!);
      const id = m.headers?.get(msgIdHeader);
      if (!id) {
        log.error({ subject: m.subject, seq: info.streamSeq }, 'a job without Nats-Msg-Id (not published by the relay): removed');
        conn.nc.publish(m.reply!, '+TERM');
        continue;
      }
      let payload: unknown;
      try {
        payload = JSON.parse(m.string());
      } catch {
        payload = m.string();
      }
      const job: Job = { id, topic, payload, attempt: info.deliveryCount, maxAttempts };
      const createdAtMs = Number(m.headers?.get(createdAtHeader)) || info.timestampMs;
      if (info.deliveryCount > maxAttempts + crashLoopMargin) poison.push({ job, reply: m.reply!, createdAtMs });
      else {
        jobs.push(job);
        batch.set(leaseKey(job), { reply: m.reply!, topic, createdAtMs });
      }
    }
    leases.hold(batch, leaseMs, receivedAt);
    // Just delivered, so well inside ack_wait: no lease needed to bury them.
    await Promise.all(poison.map((p) => bury(conn, () => p.reply, p.job, p.createdAtMs,
      `handed out ${p.job.attempt} times (maxAttempts ${maxAttempts}) without an ack, retry or dead letter: its claimers keep dying on it`)));
    return jobs;
  };

  return {
    mayLoseJobs: true,
    backend: 'jetstream',
    async enqueue(tx: Sql | TransactionSql, jobs: NewJob[]): Promise<void> {
      if (!jobs.length) return;
      const maxPayload = (link.current()?.nc.info?.max_payload ?? 1_048_576) - headerRoomBytes;
      const rows = jobs.map((j) => {
        names.subject(j.topic); // refuses a topic that cannot be a subject, before it is committed
        const payloadJson = JSON.stringify(j.payload);
        if (Buffer.byteLength(payloadJson) > maxPayload) {
          throw new Error(`job payload for ${j.topic} is ${Buffer.byteLength(payloadJson)} bytes, over NATS max_payload (${maxPayload} usable)`);
        }
        return { id: uuidv7(), topic: j.topic, payloadJson, runAt: j.runAt };
      });
      await insertOutbox(tx, rows, new Date(clock.now()));
    },

    async claim(topic: string, o: ClaimOptions): Promise<Job[]> {
      names.subject(topic);
      if (o.max < 1) return []; // a pull for 0 messages is a server error, not an empty answer
      // Real time: the wait is the NATS server's pull expiry, and `receivedAt` starts its ack_wait.
      const started = Date.now();
      const conn = await link.ready(o.waitMs, o.signal);
      if (!conn) {
        if (o.signal?.aborted) return [];
        throw new Error(`NATS JetStream is not reachable at ${String(opts.natsUrl)}; jobs wait in the PostgreSQL outbox`);
      }
      await ensureConsumer(conn, topic);
      // Jobs already in the stream first, as the PostgreSQL queue hands out the oldest ready jobs
      // first: a claim they fill needs nothing from the outbox. Under load that is every claim, which
      // then costs one pull and no PostgreSQL round trip; the background relays keep the stream filled.
      const first = await pullJobs(conn, topic, o.max, 0, o.signal);
      const firstAt = Date.now();
      if (first.length >= o.max || o.signal?.aborted) return toJobs(conn, topic, first, o.leaseMs, firstAt);
      // Short: relay the topic's committed rows (so work committed before this claim is visible to
      // it), then take the rest, waiting for the first job only if there was none.
      await relay.flush(topic).catch((err: unknown) => {
        // The relay's back-off logs publish failures; this is a lock wait or a database blip.
        log.debug({ err, topic }, 'claim could not relay its topic first; the background relay will');
      });
      let more: Msg[] = [];
      try {
        more = await pullJobs(conn, topic, o.max - first.length, first.length ? 0 : Math.max(0, o.waitMs - (Date.now() - started)), o.signal);
      } catch (err) {
        if (!first.length) throw err;
        log.warn({ err, topic }, 'the second pull of a claim failed; returning the jobs of the first');
      }
      // Both leases start now, so that none can run out (and hand its job out again) before the
      // second pull; the first batch's ack_wait counts from when it arrived.
      const jobs = await toJobs(conn, topic, first, o.leaseMs, firstAt);
      return jobs.concat(await toJobs(conn, topic, more, o.leaseMs, Date.now()));
    },

    async ack(jobs: Job[]): Promise<void> {
      const held = jobs.map((j) => leases.take(leaseKey(j))).filter((h) => h !== undefined);
      if (held.length < jobs.length) log.debug({ fenced: jobs.length - held.length }, 'acks of jobs whose lease ended: ignored');
      if (!held.length) return;
      const conn = connected('ack');
      await ackAll(conn.nc, held.map((h) => h.reply), timeoutMs).catch((err: unknown) => {
        throw new Error(`${held.length} acks may not have reached NATS; those it missed are handed out again after ack_wait`, { cause: err });
      });
    },

    async retry(job: Job, delayMs: number, error: string): Promise<void> {
      const h = leases.take(leaseKey(job));
      if (!h) return log.debug({ id: job.id, attempt: job.attempt }, 'retry of a job whose lease ended: ignored');
      // JetStream keeps no per-message note, so the reason goes to the log; dead_jobs keeps the last one.
      log.debug({ id: job.id, topic: job.topic, attempt: job.attempt, delayMs, error }, 'job retry');
      await confirm(connected('retry').nc, h.reply, nakBody(delayMs), timeoutMs);
    },

    deadLetter,

    async stats(): Promise<QueueStats[]> {
      const conn = link.current();
      // Rows a relay is publishing right now would count twice (outbox and stream); wait for them.
      if (conn) await relay.flush().catch((err: unknown) => log.debug({ err }, 'stats could not flush the outbox'));
      return jetStreamStats(sql, conn, names, clock.now());
    },

    async ping(): Promise<boolean> {
      const database = await sql`select 1`.then(() => true, () => false);
      const conn = link.current();
      if (!database || !conn) return false;
      // An account info request answers only when JetStream (not just the NATS server) is up;
      // 2 s because a readiness probe must answer before the load balancer's own timeout.
      try {
        const m = await conn.nc.request('$JS.API.INFO', '', { timeout: 2_000 });
        return !m.json<{ error?: unknown }>().error;
      } catch {
        return false; // the answer is the point of a ping: down is false, not an exception
      }
    },

    async close(): Promise<void> {
      await relay.close();
      // Jobs still held go back now instead of after ack_wait; the drain in link.close sends the naks.
      leases.releaseAll();
      await link.close();
    },
  };
}
