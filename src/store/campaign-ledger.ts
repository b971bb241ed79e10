/**
 * The campaign ledger: one narrow row per recipient per occurrence (migration 0020). The fan-out
 * writes a keyset page of the audience at a time; the send step takes due rows under the
 * campaign's row lock and records each one's outcome; the counts are read back from the rows, so
 * "finished" means every recipient has one. Partitioned by month of `planned_at`: an old month of
 * campaigns is dropped with its partition, never deleted row by row.
 */
import type { Sql, TransactionSql } from 'postgres';
import { compileQuery } from '../domain/targeting/sql.js';
import type { Query } from '../domain/targeting/query.js';
import { ledgerRollup } from './stats-rollup.js';
import { ensureRangePartition } from './partitions.js';

type Db = Sql | TransactionSql;

/** The name of the month partition that holds rows planned at `at`. */
function partitionName(at: Date): string {
  return `campaign_recipients_${at.getUTCFullYear()}_${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The month partition that holds rows planned at `at`, created on first use (store/partitions.ts). */
export async function ensurePartition(tx: TransactionSql, at: Date): Promise<void> {
  const from = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
  const to = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  await ensureRangePartition(tx, 'campaign_recipients', partitionName(from), from, to);
}

export interface Occurrence {
  campaign_id: string;
  occurrence: number;
  project_id: string;
  planned_at: Date;
  local_date: string | null;
  state: 'fanning_out' | 'sending' | 'done' | 'stopped';
  cursor: string;
  targeted: number;
  chain: number;
}

export async function insertOccurrence(tx: TransactionSql, o: { campaignId: string; projectId: string; occurrence: number; plannedAt: Date; localDate: string | null }): Promise<void> {
  await ensurePartition(tx, o.plannedAt);
  await tx`
    insert into campaign_occurrences (campaign_id, occurrence, project_id, planned_at, local_date, state)
    values (${o.campaignId}, ${o.occurrence}, ${o.projectId}, ${o.plannedAt}, ${o.localDate}, 'fanning_out')
    on conflict do nothing`;
}

export async function lockOccurrence(tx: TransactionSql, campaignId: string, occurrence: number): Promise<Occurrence | undefined> {
  const [row] = await tx<Occurrence[]>`
    select campaign_id, occurrence, project_id, planned_at, local_date::text as local_date, state, cursor, targeted, chain
      from campaign_occurrences where campaign_id = ${campaignId} and occurrence = ${occurrence} for update`;
  return row;
}

export async function updateOccurrence(tx: TransactionSql, o: { campaignId: string; occurrence: number; state: Occurrence['state']; cursor?: string; addTargeted?: number; now: Date }): Promise<void> {
  await tx`
    update campaign_occurrences set state = ${o.state}, cursor = coalesce(${o.cursor ?? null}, cursor),
      targeted = targeted + ${o.addTargeted ?? 0},
      done_at = case when ${o.state} in ('done', 'stopped') then ${o.now}::timestamptz else done_at end
    where campaign_id = ${o.campaignId} and occurrence = ${o.occurrence}`;
}

/** What the fan-out needs of each profile it plans. */
export interface AudienceMember { custom_id: string; timezone: string | null }

/** A fan-out page: the audience among the next profiles in key order, and where the next page starts. */
export interface AudiencePage {
  members: AudienceMember[];
  /** The last profile key the page covered; null when it reached the project's last profile. */
  upTo: string | null;
}

/**
 * The audience among the next `span` profiles after `after` (custom_id order); query null:
 * everyone. A page is a range of profile keys, not a number of matches: its last key is found by
 * walking `span` entries of the primary key, and the query then reads that range and nothing
 * else. Each subquery is given the range too (domain/targeting/sql.ts#KeyRange), so the planner
 * can hash or merge the range's installations and events, read by index, instead of probing them
 * once per profile: over 1,000,000 profiles a range of 20,000 took 84 ms where a nested loop to
 * the same matches took about 2.5 times as long, and a page costs what its range costs wherever
 * it is in the audience. (With a LIMIT instead of a range the planner weighed whole tables
 * against the limit and each page cost more than the one before.) No JIT: a page's plan can look
 * costly enough to be compiled, which takes longer than the page.
 * https://www.postgresql.org/docs/current/jit-decision.html
 */
export async function audiencePage(tx: TransactionSql, projectId: string, query: Query | null, now: number, after: string, span: number): Promise<AudiencePage> {
  await tx`select set_config('jit', 'off', true)`;
  const [end] = await tx<{ custom_id: string }[]>`
    select custom_id from profiles where project_id = ${projectId} and custom_id > ${after}
     order by custom_id offset ${span - 1} limit 1`;
  const upTo = end?.custom_id ?? null;
  const q = query
    ? compileQuery(query, now, 4, { project: '$1::uuid', after: '$2::text', ...(upTo === null ? {} : { upTo: '$3::text' }) })
    : { sql: 'true', params: [] };
  // $3 is always bound: a statement's placeholders are numbered without gaps.
  const members = await tx.unsafe<AudienceMember[]>(
    `select p.custom_id, p.timezone from profiles p
      where p.project_id = $1::uuid and p.custom_id > $2::text ${upTo === null ? 'and $3::text is null' : 'and p.custom_id <= $3::text'} and ${q.sql}
      order by p.custom_id`,
    [projectId, after, upTo as string, ...q.params],
  );
  return { members, upTo };
}

/**
 * Fresh statistics for the partition an occurrence's fan-out just filled, once it has ended. The
 * send step's statements are planned from them, and autovacuum analyzes a table only on its own
 * schedule: over a partition filled with 1,000,000 rows and never analyzed, the planner took the
 * occurrence's pending rows for one and the send step's update of 2,000 ledger rows ran for more
 * than 7 minutes (a ledger of 500,000 recipients stalled at 114,000 sent); after ANALYZE, the same
 * update took its usual time. ANALYZE reads a fixed-size sample, not the whole partition.
 * https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-STATISTICS
 */
export async function analyzeLedger(tx: TransactionSql, plannedAt: Date): Promise<void> {
  await tx.unsafe(`analyze ${partitionName(plannedAt)}`);
}

export interface NewRecipient {
  custom_id: string;
  variant: number;
  due_at: Date;
  status: 'pending' | 'skipped';
  reason: string | null;
}

/** Writes a page of recipients; a row already there (a fan-out page done twice) stays as it is. */
export async function insertRecipients(tx: TransactionSql, o: Occurrence, rows: NewRecipient[], now: Date, variants = 1): Promise<number> {
  if (!rows.length) return 0;
  // Rows skipped at once (the control group, a late zone) are counted by this statement (store/stats-rollup.ts).
  const [inserted] = await tx<{ n: number }[]>`
    with stats_ledger as (
    insert into campaign_recipients (campaign_id, occurrence, planned_at, custom_id, variant, due_at, status, reason, updated_at)
    select ${o.campaign_id}, ${o.occurrence}, ${o.planned_at}, u.custom_id, u.variant, u.due_at, u.status, u.reason, ${now}
      from unnest(${rows.map((r) => r.custom_id)}::text[], ${rows.map((r) => r.variant)}::smallint[],
                  ${rows.map((r) => r.due_at.toISOString())}::timestamptz[], ${rows.map((r) => r.status)}::text[],
                  ${rows.map((r) => r.reason) as string[]}::text[]) as u(custom_id, variant, due_at, status, reason)
    on conflict do nothing
    returning variant, status, reason
    ), ${ledgerRollup(tx, { projectId: o.project_id, campaignId: o.campaign_id, variants }, now)}
    select count(*)::int as n from stats_ledger`;
  return inserted!.n;
}

/** How many occurrences of the campaign each profile was sent (for a recurring campaign's per-profile cap). */
export async function occurrencesReceived(tx: TransactionSql, campaignId: string, customIds: string[]): Promise<Map<string, number>> {
  if (!customIds.length) return new Map();
  const rows = await tx<{ custom_id: string; n: number }[]>`
    select custom_id, count(*)::int as n from campaign_recipients
     where campaign_id = ${campaignId} and custom_id = any(${customIds}) and status = 'sent'
     group by custom_id`;
  return new Map(rows.map((r) => [r.custom_id, r.n]));
}

export interface DueRecipient { custom_id: string; variant: number }

/** Up to `limit` rows of the occurrence due at `now`, earliest first, locked until the caller commits. */
export async function takeDue(tx: TransactionSql, o: Occurrence, now: Date, limit: number): Promise<DueRecipient[]> {
  if (limit <= 0) return [];
  return tx<DueRecipient[]>`
    select custom_id, variant from campaign_recipients
     where campaign_id = ${o.campaign_id} and occurrence = ${o.occurrence} and planned_at = ${o.planned_at}
       and status = 'pending' and due_at <= ${now}
     order by due_at, custom_id limit ${limit}
     for update skip locked`;
}

/** True while a recipient of the occurrence was handed over and its deliveries have no outcome yet (store/campaign-outcomes.ts). */
export async function awaitingOutcomes(tx: Db, o: Occurrence): Promise<boolean> {
  const [row] = await tx`
    select 1 from campaign_recipients
     where campaign_id = ${o.campaign_id} and occurrence = ${o.occurrence} and planned_at = ${o.planned_at}
       and status = 'sent' and outcome is null limit 1`;
  return row !== undefined;
}

/** When the occurrence's next pending row is due; undefined when none is pending. */
export async function nextDue(tx: Db, o: Occurrence): Promise<Date | undefined> {
  const [row] = await tx<{ at: Date | null }[]>`
    select min(due_at) as at from campaign_recipients
     where campaign_id = ${o.campaign_id} and occurrence = ${o.occurrence} and planned_at = ${o.planned_at} and status = 'pending'`;
  return row?.at ?? undefined;
}

export interface RecipientOutcome {
  custom_id: string;
  status: 'sent' | 'skipped' | 'failed';
  reason: string | null;
  channel: string | null;
  message_id: string | null;
}

export async function recordRecipients(tx: TransactionSql, o: Occurrence, outcomes: RecipientOutcome[], now: Date, variants = 1): Promise<void> {
  if (!outcomes.length) return;
  // The send step's skips and failures (no message made) are counted by this statement (store/stats-rollup.ts).
  await tx`
    with stats_ledger as (
    update campaign_recipients r set status = u.status, reason = u.reason, channel = u.channel, message_id = u.message_id, updated_at = ${now}
      from unnest(${outcomes.map((x) => x.custom_id)}::text[], ${outcomes.map((x) => x.status)}::text[],
                  ${outcomes.map((x) => x.reason) as string[]}::text[], ${outcomes.map((x) => x.channel) as string[]}::text[],
                  ${outcomes.map((x) => x.message_id) as string[]}::uuid[]) as u(custom_id, status, reason, channel, message_id)
     where r.campaign_id = ${o.campaign_id} and r.occurrence = ${o.occurrence} and r.planned_at = ${o.planned_at}
       and r.custom_id = u.custom_id and r.status = 'pending'
    returning r.variant, r.status, r.reason
    ), ${ledgerRollup(tx, { projectId: o.project_id, campaignId: o.campaign_id, variants }, now)}
    select 1`;
}

/** Skips every pending row of the campaign (a stop): one statement, whatever the audience's size. */
export async function skipPending(tx: TransactionSql, campaignId: string, reason: string, now: Date): Promise<number> {
  const r = await tx`
    update campaign_recipients set status = 'skipped', reason = ${reason}, updated_at = ${now}
     where campaign_id = ${campaignId} and status = 'pending'`;
  return r.count;
}

/**
 * Claims email addresses or numbers for the occurrence: those another recipient claimed first are
 * not returned; one the same recipient claimed before (its send is retried) is.
 */
export async function claimTargets(tx: TransactionSql, o: Occurrence, targets: { target: string; custom_id: string }[]): Promise<Set<string>> {
  if (!targets.length) return new Set();
  const rows = await tx<{ target: string }[]>`
    insert into campaign_targets (campaign_id, occurrence, target, custom_id)
    select ${o.campaign_id}, ${o.occurrence}, t.target, t.custom_id
      from unnest(${targets.map((t) => t.target)}::text[], ${targets.map((t) => t.custom_id)}::text[]) as t(target, custom_id)
    on conflict (campaign_id, occurrence, target) do update set custom_id = excluded.custom_id
      where campaign_targets.custom_id = excluded.custom_id
    returning target`;
  return new Set(rows.map((r) => r.target));
}

/**
 * Failed recipients of the campaign set pending again, due now (one call, "retry failed"): those
 * whose hand-over failed, and those whose deliveries failed at the provider in a way worth another
 * try (`retryable`, store/campaign-outcomes.ts: not a dead token, a hard bounce, or a call whose
 * outcome was lost). Each row moves once, so a recipient is sent again exactly once per call, and
 * `resends` counts it. Rows are locked in key order, as the delivery step locks them.
 */
export async function retryFailed(tx: TransactionSql, campaignId: string, now: Date): Promise<{ occurrence: number; n: number }[]> {
  return tx<{ occurrence: number; n: number }[]>`
    with failed as (
      select occurrence, custom_id, planned_at from campaign_recipients
       where campaign_id = ${campaignId} and (status = 'failed' or (status = 'sent' and outcome = 'failed' and retryable))
       order by occurrence, custom_id for update
    ), moved as (
      update campaign_recipients r set status = 'pending', reason = null, due_at = ${now}, updated_at = ${now},
             outcome = null, outcome_reason = null, retryable = false, resends = r.resends + 1
        from failed f
       where r.campaign_id = ${campaignId} and r.occurrence = f.occurrence and r.custom_id = f.custom_id and r.planned_at = f.planned_at
      returning r.occurrence
    ) select occurrence, count(*)::int as n from moved group by occurrence`;
}

/** What a set of ledger rows came to. `sent` counts every row handed over, whatever its outcome since. */
export interface Tally {
  /** Every ledger row (the control group's too, at the campaign's and an occurrence's level). */
  targeted: number;
  pending: number;
  /** Handed to the delivery pipeline (delivered, failed or skipped there since, or still awaiting). */
  sent: number;
  /** Handed over, a delivery still queued. */
  awaiting: number;
  delivered: number;
  /** The hand-over failed (a template) or every delivery failed. */
  failed: number;
  /** Of `failed`: what retry-failed would send again. */
  retryable: number;
  /** Skipped by the campaign (reason in `skipped_by_reason`) or by every delivery (suppressed, unsubscribed...). */
  skipped: number;
  skipped_by_reason: Record<string, number>;
}

export interface CampaignCounts {
  occurrences: ({ occurrence: number; state: Occurrence['state']; planned_at: string; control: number } & Tally)[];
  recipients: Tally & { control: number };
  /** Kept beside `recipients.skipped_by_reason` for older clients: the same figures. */
  skipped_by_reason: Record<string, number>;
  by_variant: ({ variant: number } & Tally)[];
  /** The deliveries the sent recipients' messages made, by status (per device, address or number). */
  deliveries: Record<string, number>;
}

const emptyTally = (): Tally => ({ targeted: 0, pending: 0, sent: 0, awaiting: 0, delivered: 0, failed: 0, retryable: 0, skipped: 0, skipped_by_reason: {} });

interface LedgerGroup { occurrence: number; variant: number; status: string; reason: string | null; outcome: string | null; outcome_reason: string | null; retryable: boolean; n: number }

/** Adds a group of rows of one status and outcome to a tally. */
function add(t: Tally, g: LedgerGroup): void {
  t.targeted += g.n;
  const skip = (reason: string | null) => {
    t.skipped += g.n;
    const key = reason ?? 'unknown';
    t.skipped_by_reason[key] = (t.skipped_by_reason[key] ?? 0) + g.n;
  };
  if (g.status === 'pending') t.pending += g.n;
  else if (g.status === 'failed') t.failed += g.n;
  else if (g.status === 'skipped') skip(g.reason);
  else {
    t.sent += g.n;
    if (g.outcome === 'delivered') t.delivered += g.n;
    else if (g.outcome === 'failed') t.failed += g.n;
    else if (g.outcome === 'skipped') skip(g.outcome_reason);
    else t.awaiting += g.n;
  }
  if (g.status === 'failed' || (g.outcome === 'failed' && g.retryable)) t.retryable += g.n;
}

/** The campaign's counts, all from the ledger and the deliveries of its messages, in one snapshot. */
export async function campaignCounts(sql: Sql, campaignId: string): Promise<CampaignCounts> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const occurrences = await tx<{ occurrence: number; state: Occurrence['state']; planned_at: Date; targeted: number }[]>`
      select occurrence, state, planned_at, targeted from campaign_occurrences where campaign_id = ${campaignId} order by occurrence`;
    const rows = await tx<LedgerGroup[]>`
      select occurrence, variant, status, reason, outcome, outcome_reason, retryable, count(*)::int as n
        from campaign_recipients where campaign_id = ${campaignId}
       group by occurrence, variant, status, reason, outcome, outcome_reason, retryable`;
    const deliveries = await tx<{ status: string; n: number }[]>`
      select d.status, count(*)::int as n from deliveries d
       where d.message_id in (select message_id from campaign_messages where campaign_id = ${campaignId})
       group by d.status`;
    const recipients = { ...emptyTally(), control: 0 };
    const perOccurrence = new Map(occurrences.map((o) => [o.occurrence, { ...o, planned_at: o.planned_at.toISOString(), ...emptyTally(), control: 0 }]));
    const variants = new Map<number, { variant: number } & Tally>();
    for (const g of rows) {
      const occurrence = perOccurrence.get(g.occurrence);
      if (g.variant < 0) {
        recipients.control += g.n;
        recipients.targeted += g.n;
        if (occurrence) {
          occurrence.control += g.n;
          occurrence.targeted += g.n;
        }
        continue;
      }
      add(recipients, g);
      if (occurrence) add(occurrence, g);
      const v = variants.get(g.variant) ?? { variant: g.variant, ...emptyTally() };
      add(v, g);
      variants.set(g.variant, v);
    }
    return {
      occurrences: [...perOccurrence.values()],
      recipients,
      skipped_by_reason: recipients.skipped_by_reason,
      by_variant: [...variants.values()].sort((a, b) => a.variant - b.variant),
      deliveries: Object.fromEntries(deliveries.map((d) => [d.status, d.n])),
    };
  });
}
