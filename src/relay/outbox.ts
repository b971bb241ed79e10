/**
 * The job outbox table (src/store/migrations/0003_outbox.sql): the SQL the JetStream queue's
 * `enqueue` and the relay share. Plain set-based statements, one per batch.
 */
import type { Sql, TransactionSql } from 'postgres';

/** The NOTIFY channel that wakes relays; sent inside the enqueuing transaction, so only on commit. */
export const outboxChannel = 'herald_outbox';

export interface NewOutboxRow {
  id: string;
  topic: string;
  /** The payload as JSON text. */
  payloadJson: string;
  runAt?: Date | undefined;
}

export interface OutboxRow {
  id: string;
  topic: string;
  /** The payload as JSON text, passed through to the transport unparsed. */
  payload: string;
  createdAt: Date;
}

/** Inserts the rows and notifies the relays, in the caller's transaction. */
export async function insertOutbox(tx: Sql | TransactionSql, rows: NewOutboxRow[], now: Date): Promise<void> {
  if (!rows.length) return;
  await tx`
    with inserted as (
      insert into job_outbox (id, topic, payload, run_at, created_at)
      select u.id, u.topic, u.payload, coalesce(u.run_at, ${now}::timestamptz), ${now}::timestamptz
      from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.topic)}::text[],
                  ${rows.map((r) => r.payloadJson)}::text[]::jsonb[],
                  ${rows.map((r) => r.runAt?.toISOString() ?? null) as string[]}::timestamptz[])
           as u(id, topic, payload, run_at)
      returning 1
    )
    select pg_notify(${outboxChannel}, '') where exists (select 1 from inserted)`;
}

export interface TakeOptions {
  /** Only this topic's rows. */
  topic?: string | undefined;
  limit: number;
  /** Wait for rows another relay holds (a claim that must see every committed row) instead of
   *  skipping them (background relays sharing the work). */
  waitForLocked: boolean;
  now: Date;
}

/** Due rows, oldest first, locked until the transaction ends. */
export async function takeDue(tx: TransactionSql, o: TakeOptions): Promise<OutboxRow[]> {
  return tx<OutboxRow[]>`
    select id, topic, payload::text as payload, created_at as "createdAt"
    from job_outbox
    where run_at <= ${o.now}::timestamptz ${o.topic === undefined ? tx`` : tx`and topic = ${o.topic}`}
    order by run_at, id
    limit ${o.limit}
    for update ${o.waitForLocked ? tx`` : tx`skip locked`}`;
}

export async function deleteRows(tx: TransactionSql, ids: string[]): Promise<void> {
  if (ids.length) await tx`delete from job_outbox where id = any(${ids}::uuid[])`;
}

/** True when the topic (or any topic) has a due row: the cheap test before a claim's flush. */
export async function hasDue(sql: Sql, now: Date, topic?: string): Promise<boolean> {
  const rows = await sql`
    select 1 from job_outbox where run_at <= ${now}::timestamptz ${topic === undefined ? sql`` : sql`and topic = ${topic}`} limit 1`;
  return rows.length > 0;
}

/** Milliseconds until the earliest row is due (≤ 0 when one is due now), undefined when empty. */
export async function msUntilNextDue(sql: Sql, now: Date): Promise<number | undefined> {
  const [row] = await sql<{ ms: number | null }[]>`
    select (extract(epoch from min(run_at) - ${now}::timestamptz) * 1000)::float8 as ms from job_outbox`;
  return row?.ms ?? undefined;
}

export interface OutboxBacklog {
  topic: string;
  /** Rows not yet relayed, due or delayed. */
  rows: number;
  /** Enqueue time of the oldest due row, if any. */
  oldestDue: Date | null;
}

export async function outboxBacklog(sql: Sql, now: Date): Promise<OutboxBacklog[]> {
  return sql<OutboxBacklog[]>`
    select topic, count(*)::int as rows, min(created_at) filter (where run_at <= ${now}::timestamptz) as "oldestDue"
    from job_outbox group by topic order by topic`;
}
