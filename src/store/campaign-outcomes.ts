/**
 * A campaign recipient's delivery outcome, written onto its ledger row (migration 0021) in the
 * transaction that records what its deliveries came to: the delivery step's outcomes
 * (worker/deliver.ts) and the fan-out's skips (worker/fanout.ts). Written rather than joined at
 * read time so that the counts, "finished" and retry-failed read one narrow table, and the cost is
 * paid once per delivery batch, not on every read of a million-recipient campaign.
 *
 * A row's outcome, from the deliveries of its message made for its custom_id, once none of them is
 * still `queued` (retrying, or parked behind a breaker: so a row with an outcome has no delivery
 * left in flight, and "finished" is read from the ledger alone):
 * - delivered: at least one reached a final success (`sent`: the provider took it; `delivered`:
 *   the provider confirmed it);
 * - skipped: every one was skipped (suppressed, unsubscribed, opted out: its reason), or the
 *   fan-out made none (`no_target`: the device or address went away after the send step chose it);
 * - failed: every one ended failed, invalidated, expired or unknown; `retryable` when one of them
 *   is `failed` (the provider's failure, retries spent, credentials missing) and none is `unknown`
 *   (a call whose outcome a crash lost may have arrived: sending again could show it twice); a dead
 *   token or a hard bounce (`invalidated`) alone is not worth sending again.
 */
import type { TransactionSql } from 'postgres';

/**
 * Which occurrence each campaign message was sent for (how its recipients' ledger rows are found),
 * and the A/B variant it was made for ('' when the campaign has one: its stats are counted under it).
 */
export async function insertCampaignMessages(
  tx: TransactionSql, o: { campaignId: string; occurrence: number; plannedAt: Date }, messageIds: string[], variants?: string[],
): Promise<void> {
  if (!messageIds.length) return;
  await tx`
    insert into campaign_messages (message_id, campaign_id, occurrence, planned_at, variant)
    select m, ${o.campaignId}, ${o.occurrence}, ${o.plannedAt}, coalesce(v, '')
      from unnest(${messageIds}::uuid[], ${variants ?? messageIds.map(() => '')}::text[]) as u(m, v)`;
}

/** The recipients whose outcome may have changed: (message, custom_id) pairs, or every recipient of fanned-out messages. */
export type OutcomeSubjects = { pairs: { message_id: string; custom_id: string }[] } | { messageIds: string[] };

/**
 * Writes the outcome of each named recipient whose deliveries came to one, in two statements for
 * the batch: first its ledger rows are locked (in key order, so two batches never deadlock), then
 * the outcomes are computed and written by a statement whose snapshot starts after the locks are
 * held. Two batches finishing two devices of one recipient at once thus never both read the
 * other's delivery as still queued (under READ COMMITTED each statement reads a fresh snapshot;
 * one statement would read both deliveries from before the lock and leave the row without an
 * outcome: https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED).
 * Messages that are not a campaign's cost one primary-key probe each.
 */
export async function recordCampaignOutcomes(tx: TransactionSql, subjects: OutcomeSubjects, now: Date): Promise<number> {
  const pairs = 'pairs' in subjects
    ? subjects.pairs
    : await expandMessages(tx, subjects.messageIds);
  if (!pairs.length) return 0;
  // Each row is looked up by its whole primary key, in the key order the pairs are sorted in here:
  // a lateral lookup per pair keeps the index on every column whatever the planner believes of a
  // fresh partition (joined as a set, a partition never analyzed was scanned per pair on three of
  // its four key columns: 22 s for 250 rows of a 100,000-row occurrence), and a nested loop over the
  // ordered pairs takes the locks in that order.
  const where = await campaignMessagesOf(tx, [...new Set(pairs.map((p) => p.message_id))]);
  const keys = pairs.flatMap((p) => {
    const cm = where.get(p.message_id);
    return cm ? [{ ...cm, custom_id: p.custom_id, message_id: p.message_id }] : [];
  }).sort((x, y) => cmp(x.campaign_id, y.campaign_id) || x.occurrence - y.occurrence || cmp(x.custom_id, y.custom_id));
  if (!keys.length) return 0;
  const locked = await tx<{ campaign_id: string; occurrence: number; planned_at: Date; custom_id: string; message_id: string }[]>`
    select l.campaign_id, l.occurrence, l.planned_at, l.custom_id, l.message_id
      from unnest(${keys.map((k) => k.campaign_id)}::uuid[], ${keys.map((k) => k.occurrence)}::int[],
                  ${keys.map((k) => k.planned_at.toISOString())}::timestamptz[], ${keys.map((k) => k.custom_id)}::text[],
                  ${keys.map((k) => k.message_id)}::uuid[]) with ordinality as p(campaign_id, occurrence, planned_at, custom_id, message_id, n)
      cross join lateral (
        select r.campaign_id, r.occurrence, r.planned_at, r.custom_id, r.message_id from campaign_recipients r
         where r.campaign_id = p.campaign_id and r.occurrence = p.occurrence and r.custom_id = p.custom_id
           and r.planned_at = p.planned_at and r.message_id = p.message_id and r.status = 'sent'
           for update
      ) l
     order by p.n`;
  if (!locked.length) return 0;
  const written = await tx`
    with subject as (
      select * from unnest(${locked.map((r) => r.campaign_id)}::uuid[], ${locked.map((r) => r.occurrence)}::int[],
                           ${locked.map((r) => r.planned_at.toISOString())}::timestamptz[], ${locked.map((r) => r.custom_id)}::text[],
                           ${locked.map((r) => r.message_id)}::uuid[]) as s(campaign_id, occurrence, planned_at, custom_id, message_id)
    ), tally as (
      select s.campaign_id, s.occurrence, s.planned_at, s.custom_id, s.message_id,
             count(d.id) as n,
             count(d.id) filter (where d.status in ('sent', 'delivered')) as ok,
             count(d.id) filter (where d.status = 'queued') as queued,
             count(d.id) filter (where d.status = 'skipped') as skipped,
             count(d.id) filter (where d.status = 'failed') as failed,
             count(d.id) filter (where d.status = 'unknown') as unknown,
             min(d.reason) filter (where d.status = 'skipped') as skip_reason,
             -- Capping deferred the profile: its deliveries are made when the deferral is released.
             bool_or(cd.message_id is not null) as deferred,
             -- The reason shown for a failure: a provider's failure first (what a retry is for).
             (array_agg(d.status || ': ' || coalesce(d.reason, '') order by d.status = 'failed' desc, d.id) filter (where d.status not in ('sent', 'delivered', 'queued', 'skipped')))[1] as fail_reason
        from subject s
        left join deliveries d on d.message_id = s.message_id and d.custom_id = s.custom_id
        left join capping_deferrals cd on cd.message_id = s.message_id and cd.custom_id = s.custom_id
       group by s.campaign_id, s.occurrence, s.planned_at, s.custom_id, s.message_id
    ), decided as (
      select t.*,
             case when t.queued > 0 or t.deferred then null when t.ok > 0 then 'delivered'
                  when t.n = 0 then 'skipped' when t.skipped = t.n then 'skipped' else 'failed' end as outcome
        from tally t
    )
    update campaign_recipients r
       set outcome = x.outcome,
           outcome_reason = case x.outcome when 'delivered' then null when 'skipped' then coalesce(x.skip_reason, 'no_target') else x.fail_reason end,
           retryable = (x.outcome = 'failed' and x.failed > 0 and x.unknown = 0),
           updated_at = ${now}
      from decided x
     where x.outcome is not null
       and r.campaign_id = x.campaign_id and r.occurrence = x.occurrence and r.planned_at = x.planned_at and r.custom_id = x.custom_id
       and r.message_id = x.message_id and r.outcome is distinct from x.outcome`;
  return written.count;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The occurrence (and so the ledger partition) each campaign message was sent for. */
async function campaignMessagesOf(tx: TransactionSql, messageIds: string[]): Promise<Map<string, { campaign_id: string; occurrence: number; planned_at: Date }>> {
  const rows = await tx<{ message_id: string; campaign_id: string; occurrence: number; planned_at: Date }[]>`
    select message_id, campaign_id, occurrence, planned_at from campaign_messages where message_id = any(${messageIds}::uuid[])`;
  return new Map(rows.map(({ message_id, ...cm }) => [message_id, cm]));
}

/** Every custom_id a batch of fanned-out campaign messages names (a transactional message names none here). */
async function expandMessages(tx: TransactionSql, messageIds: string[]): Promise<{ message_id: string; custom_id: string }[]> {
  if (!messageIds.length) return [];
  return tx<{ message_id: string; custom_id: string }[]>`
    select m.id as message_id, c.custom_id
      from campaign_messages cm
      join messages m on m.id = cm.message_id
      cross join lateral jsonb_array_elements_text(coalesce(m.recipients->'custom_ids', '[]'::jsonb)) as c(custom_id)
     where cm.message_id = any(${messageIds}::uuid[])`;
}
