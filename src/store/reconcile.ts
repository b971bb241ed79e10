/**
 * What the reconciler asks PostgreSQL: work it shows unfinished long after it was due, with no job
 * waiting for it in the outbox. Each query marks what it returns in the same statement (a message's
 * reconciled_at, a delivery's due_at), so the next sweep leaves it alone for another grace period
 * and two schedulers sweeping at once take disjoint rows (SKIP LOCKED). `now` is the scheduler's
 * clock (domain/clock.ts), the one that stamped the rows.
 */
import type { TransactionSql } from 'postgres';

/** Messages accepted more than `graceMs` ago (or last reconciled then) and still not fanned out. */
export async function takeLostFanouts(tx: TransactionSql, topic: string, graceMs: number, limit: number, now: Date): Promise<string[]> {
  const rows = await tx<{ id: string }[]>`
    update messages m set reconciled_at = ${now}::timestamptz
    where m.id in (
      select id from messages
      where fanned_out_at is null
        and created_at < ${now}::timestamptz - ${graceMs} * interval '1 millisecond'
        and coalesce(reconciled_at, created_at) < ${now}::timestamptz - ${graceMs} * interval '1 millisecond'
        and not exists (select 1 from job_outbox o where o.topic = ${topic} and o.payload->>'message_id' = messages.id::text)
      order by created_at
      limit ${limit}
      for update skip locked)
    returning m.id`;
  return rows.map((r) => r.id);
}

/**
 * Queued deliveries due more than `graceMs` ago with no provider call under way (a call's claim
 * outlives it by at most the claim time): their job is gone.
 */
export async function takeLostDeliveries(
  tx: TransactionSql,
  graceMs: number,
  limit: number,
  now: Date,
): Promise<{ id: string; platform: string }[]> {
  return tx<{ id: string; platform: string }[]>`
    update deliveries d set due_at = ${now}::timestamptz
    where d.id in (
      select id from deliveries
      where status = 'queued'
        and due_at < ${now}::timestamptz - ${graceMs} * interval '1 millisecond'
        and (sending_until is null or sending_until < ${now}::timestamptz)
        and not exists (select 1 from job_outbox o where o.payload->>'delivery_id' = deliveries.id::text)
      order by due_at
      limit ${limit}
      for update skip locked)
    returning d.id, d.platform`;
}

/**
 * Audiences with a member change accepted more than `graceMs` ago (or last reconciled then), still
 * not applied, and no apply job waiting in the outbox: one row per such change (several may name
 * one audience), each stamped reconciled_at.
 */
export async function takeLostAudienceChanges(tx: TransactionSql, topic: string, graceMs: number, limit: number, now: Date): Promise<{ project_id: string; audience_id: string }[]> {
  return tx<{ project_id: string; audience_id: string }[]>`
    update audience_changes c set reconciled_at = ${now}::timestamptz
    where c.id in (
      select id from audience_changes
      where applied_at is null
        and created_at < ${now}::timestamptz - ${graceMs} * interval '1 millisecond'
        and coalesce(reconciled_at, created_at) < ${now}::timestamptz - ${graceMs} * interval '1 millisecond'
        and not exists (select 1 from job_outbox o where o.topic = ${topic} and o.payload->>'audience_id' = audience_changes.audience_id
                                                    and o.payload->>'project_id' = audience_changes.project_id::text)
      order by created_at
      limit ${limit}
      for update skip locked)
    returning c.project_id, c.audience_id`;
}
