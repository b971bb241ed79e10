/**
 * The work queue on PostgreSQL: jobs are rows in the same database as the state they belong to, so
 * `enqueue` joins the caller's transaction for free. Claims use `FOR UPDATE SKIP LOCKED` (many
 * consumers, no job handed to two of them at once); an idle consumer sleeps until LISTEN/NOTIFY says
 * its topic has work, or until the next delayed job or expired lease is due, never polling busily.
 *
 * Table layout and the fencing rule: src/store/migrations/0002_work_queue.sql.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Logger } from 'pino';
import { uuidv7 } from '../../domain/ids.js';
import type { ClaimOptions, Job, NewJob, QueueStats, WorkQueue } from '../queue.js';
import { createWakeups } from './wakeups.js';
import { systemClock, type Clock } from '../../domain/clock.js';

export interface PostgresQueueOptions {
  sql: Sql;
  log: Logger;
  /** Claims of one job before its consumer must dead-letter it. */
  maxAttempts: number;
  /** Times leases, delays and run_at: PostgreSQL's own now() never decides when a job is ready. */
  clock?: Clock | undefined;
}

/** The NOTIFY channel; the payload is the topic that got work. */
const channel = 'herald_jobs';

export function createPostgresQueue(opts: PostgresQueueOptions): WorkQueue {
  const { sql, maxAttempts } = opts;
  const clock = opts.clock ?? systemClock;
  const wakeups = createWakeups(sql, channel, opts.log, clock);
  const now = () => new Date(clock.now());

  const claimNow = async (topic: string, max: number, leaseMs: number): Promise<Job[]> => {
    const at = now();
    const rows = await sql<{ id: string; payload: unknown; attempts: number }[]>`
      with ready as (
        select id from jobs
        where topic = ${topic} and run_at <= ${at}::timestamptz
        order by run_at
        limit ${max}
        for update skip locked
      )
      update jobs j set run_at = ${at}::timestamptz + ${leaseMs} * interval '1 millisecond', attempts = j.attempts + 1
      from ready where j.id = ready.id
      returning j.id, j.payload, j.attempts`;
    return rows.map((r) => ({ id: r.id, topic, payload: r.payload, attempt: r.attempts, maxAttempts }));
  };

  /** Milliseconds until the topic's next job becomes ready (a delayed retry or a lease running out). */
  const msUntilNext = async (topic: string): Promise<number | undefined> => {
    const [row] = await sql<{ ms: number | null }[]>`
      select (extract(epoch from min(run_at) - ${now()}::timestamptz) * 1000)::float8 as ms from jobs where topic = ${topic}`;
    return row?.ms === null || row?.ms === undefined ? undefined : Math.max(0, row.ms);
  };

  return {
    // Jobs are rows in the same database as the work they belong to: they share its durability.
    mayLoseJobs: false,
    backend: 'postgres',
    async enqueue(tx: Sql | TransactionSql, jobs: NewJob[]): Promise<void> {
      if (!jobs.length) return;
      // One statement for the whole batch; the NOTIFY is delivered only if the transaction commits.
      const at = now();
      await tx`
        with inserted as (
          insert into jobs (id, topic, payload, run_at, created_at)
          select u.id, u.topic, u.payload, coalesce(u.run_at, ${at}::timestamptz), ${at}::timestamptz
          from unnest(${jobs.map(() => uuidv7())}::uuid[], ${jobs.map((j) => j.topic)}::text[],
                      ${jobs.map((j) => JSON.stringify(j.payload))}::text[]::jsonb[],
                      ${jobs.map((j) => j.runAt?.toISOString() ?? null) as string[]}::timestamptz[])
               as u(id, topic, payload, run_at)
          returning topic
        )
        select pg_notify(${channel}, t.topic) from (select distinct topic from inserted) t`;
    },

    async claim(topic: string, o: ClaimOptions): Promise<Job[]> {
      const deadline = clock.now() + o.waitMs;
      if (o.waitMs > 0) await wakeups.ready();
      for (;;) {
        // Read the wake-up generation before looking, so a NOTIFY that lands between an empty
        // claim and the wait below is not missed.
        const seen = wakeups.generation(topic);
        const jobs = await claimNow(topic, o.max, o.leaseMs);
        const remaining = deadline - clock.now();
        if (jobs.length || remaining <= 0 || o.signal?.aborted) return jobs;
        if (wakeups.generation(topic) !== seen) continue;
        const next = await msUntilNext(topic);
        await wakeups.wait(topic, seen, Math.min(remaining, next ?? remaining), o.signal);
      }
    },

    async ack(jobs: Job[]): Promise<void> {
      if (!jobs.length) return;
      await sql`
        delete from jobs j
        using unnest(${jobs.map((j) => j.id)}::uuid[], ${jobs.map((j) => j.attempt)}::int[]) as a(id, attempts)
        where j.id = a.id and j.attempts = a.attempts`;
    },

    async retry(job: Job, delayMs: number, error: string): Promise<void> {
      // The NOTIFY wakes consumers sleeping past the new run_at so they re-read when to look again.
      await sql`
        with moved as (
          update jobs set run_at = ${now()}::timestamptz + ${Math.max(0, Math.round(delayMs))} * interval '1 millisecond',
                          last_error = ${error}
          where id = ${job.id} and attempts = ${job.attempt}
          returning topic
        )
        select pg_notify(${channel}, topic) from moved`;
    },

    async deadLetter(job: Job, error: string): Promise<void> {
      await sql`
        with gone as (
          delete from jobs where id = ${job.id} and attempts = ${job.attempt}
          returning id, topic, payload, attempts, created_at
        )
        insert into dead_jobs (id, topic, payload, attempts, last_error, created_at)
        select id, topic, payload, attempts, ${error}, created_at from gone
        on conflict (id) do nothing`;
    },

    async stats(): Promise<QueueStats[]> {
      const at = now();
      const rows = await sql<{ topic: string; depth: number; age: number; dead: number }[]>`
        with live as (
          select topic, count(*)::int as depth,
                 coalesce(extract(epoch from ${at}::timestamptz - min(created_at) filter (where run_at <= ${at}::timestamptz)), 0)::float8 as age
          from jobs group by topic
        ), dead as (
          select topic, count(*)::int as dead from dead_jobs group by topic
        )
        select coalesce(l.topic, d.topic) as topic, coalesce(l.depth, 0) as depth, coalesce(l.age, 0) as age,
               coalesce(d.dead, 0) as dead
        from live l full join dead d on d.topic = l.topic
        order by 1`;
      return rows.map((r) => ({ topic: r.topic, depth: r.depth, oldestAgeSeconds: r.age, deadLettered: r.dead }));
    },

    async ping(): Promise<boolean> {
      await sql`select 1`;
      return true;
    },

    async close(): Promise<void> {
      await wakeups.close();
    },
  };
}
