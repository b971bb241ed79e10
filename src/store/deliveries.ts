/**
 * Deliveries: one row per (message, platform, target). The fan-out creates them; the delivery
 * worker reads them before sending and records each attempt's outcome in one set-based statement.
 */
import type { Sql, TransactionSql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import { contentParts, type MessageContent, type TargetKind } from '../domain/channels.js';
import { decideTargets, type MessageChannels, type Recipients } from '../domain/recipients.js';
import { deliveryTraceparent } from '../domain/trace-context.js';
import { loadRecipientRows } from './recipient-rows.js';
import type { DeliveryStatus } from './messages.js';
import { deliveryEventData, webhookOutbox } from './webhook-outbox.js';
import { capTargets, releasedShares } from './capping-fanout.js';
import { statsRollup } from './stats-rollup.js';
import { writeInboxItems, type NewInboxItem } from './inbox.js';
import { inboxOwnerOf } from '../domain/inbox.js';

export interface FanoutResult {
  messageId: string;
  /** Deliveries created as `queued`, to be sent. */
  queued: { id: string; platform: string }[];
  /** False when the message had already been fanned out (a redelivered job). */
  fresh: boolean;
  projectId: string;
  /** When release jobs are due for the profiles capping deferred (store/capping.ts): one fan-out job each, `release: true`. */
  releases: Date[];
}

/**
 * Fans out a batch of messages in the caller's transaction, set-based: the messages are locked
 * and stamped (a redelivered fan-out job creates nothing twice), the rows every recipient needs
 * (installations, invalidated tokens, profiles, suppressions, opt-outs) are loaded in one
 * statement per table for the whole batch (store/recipient-rows.ts), `domain/recipients.ts`
 * decides each message's targets and skips, and every delivery of the batch is inserted in one
 * statement. A suppressed address, an opted-out number or an unsubscribed profile gets a `skipped`
 * delivery that says why. Capping rules and quiet hours are applied per profile in this same
 * transaction (store/capping.ts: locked, counted, reserved; a deferred profile gets its delivery
 * rows from a later `release` call). `now` (the worker's clock) stamps the skips' webhook events.
 * A message flagged `push.inbox` gets its inbox items here too, with the deliveries (store/inbox.ts).
 */
export async function fanOutMessages(tx: TransactionSql, messageIds: string[], now: Date, opts: { release?: boolean } = {}): Promise<FanoutResult[]> {
  const locked = await tx<{ id: string; project_id: string; group_id: string; created_at: Date; recipients: Recipients; fanned_out_at: Date | null; parts: string[]; inbox: boolean }[]>`
    select id, project_id, group_id, created_at, recipients, fanned_out_at, array(select jsonb_object_keys(content)) as parts,
           coalesce(content #> '{push,inbox}' = 'true'::jsonb, false) as inbox
    from messages where id = any(${messageIds}::uuid[]) order by id for update`;
  const msgs = locked.map(({ parts, ...m }) => ({ ...m, has: Object.fromEntries(contentParts.map((p) => [p, parts.includes(p)])) as MessageChannels }));
  // A release (capping's deferral come due) fans a message out again to the due profiles alone.
  const fresh = opts.release ? await releasedShares(tx, msgs, now.getTime()) : msgs.filter((m) => !m.fanned_out_at);
  const rows = await loadRecipientRows(tx, fresh);
  const capped = await capTargets(tx, fresh.map((m) => ({ m, targets: decideTargets(m.recipients, m.has, rows(m.project_id)) })), rows, now.getTime());
  const deliveries = capped.decided.flatMap(({ m, targets }) =>
    targets.map((t) => {
      const [status, reason] = t.skip ? [t.skipStatus ?? 'skipped', t.skip] : ['queued', null];
      return { id: uuidv7(), message_id: m.id, project_id: m.project_id, ...t, status, reason };
    }));
  const inserted = deliveries.length
    ? await tx<{ id: string; message_id: string; status: DeliveryStatus; platform: string }[]>`
        with ins as (
        insert into deliveries (id, message_id, project_id, platform, target, target_kind, install_id, apns_environment, status, reason, custom_id)
        select u.id, u.message_id, u.project_id, u.platform, u.target, u.target_kind, u.install_id, u.env, u.status, u.reason, u.custom_id
        from unnest(${deliveries.map((x) => x.id)}::uuid[], ${deliveries.map((x) => x.message_id)}::uuid[],
                    ${deliveries.map((x) => x.project_id)}::uuid[], ${deliveries.map((x) => x.platform)}::text[],
                    ${deliveries.map((x) => x.target)}::text[], ${deliveries.map((x) => x.target_kind)}::text[],
                    ${deliveries.map((x) => x.install_id) as string[]}::text[],
                    ${deliveries.map((x) => x.env) as string[]}::text[], ${deliveries.map((x) => x.status) as string[]}::text[],
                    ${deliveries.map((x) => x.reason) as string[]}::text[], ${deliveries.map((x) => x.custom_id) as string[]}::text[])
             as u(id, message_id, project_id, platform, target, target_kind, install_id, env, status, reason, custom_id)
        on conflict (message_id, platform, target) do nothing
        returning id, message_id, project_id, platform, target, target_kind, status, reason
        ), webhook_facts as (
          -- A skip is final at once: its message.skipped event is written with it (store/webhook-outbox.ts).
          select i.project_id, 'message.skipped' as type, ${tx.unsafe(deliveryEventData('i'))} as data from ins i where i.status = 'skipped'
        ), ${webhookOutbox(tx, now)}, stats_facts as (
          -- The skips' counters, by reason, in this statement (store/stats-rollup.ts); a dead token
          -- known before the send is a failure, as the delivery step would have found it.
          select i.project_id, i.message_id, i.platform, case when i.status = 'skipped' then 'skipped' else 'failed' end as metric, i.reason
          from ins i where i.status <> 'queued'
        ), ${statsRollup(tx, now)}
        select id, message_id, status, platform from ins`
    : [];
  await writeInboxItems(tx, inboxItemsOf(msgs, deliveries, inserted));
  if (fresh.length && !opts.release) await tx`update messages set fanned_out_at = ${now} where id = any(${fresh.map((m) => m.id)}::uuid[])`;
  const queued = new Map<string, { id: string; platform: string }[]>();
  for (const i of inserted) {
    if (i.status === 'queued') queued.set(i.message_id, [...(queued.get(i.message_id) ?? []), { id: i.id, platform: i.platform }]);
  }
  return msgs.map((m) => ({ messageId: m.id, projectId: m.project_id, fresh: !m.fanned_out_at, queued: queued.get(m.id) ?? [], releases: capped.releases.get(m.id) ?? [] }));
}

/**
 * The inbox items of the deliveries this fan-out inserted, for the messages flagged `push.inbox`:
 * one per owner (store/inbox.ts), so three devices of one custom_id bring one item.
 */
function inboxItemsOf(
  msgs: readonly { id: string; project_id: string; created_at: Date; inbox: boolean }[],
  deliveries: readonly { id: string; platform: string; custom_id: string | null; install_id: string | null }[],
  inserted: readonly { id: string; message_id: string; status: string }[],
): NewInboxItem[] {
  const flagged = new Map(msgs.filter((m) => m.inbox).map((m) => [m.id, m]));
  if (!flagged.size) return [];
  const byId = new Map(deliveries.map((d) => [d.id, d]));
  return inserted.flatMap((i) => {
    const m = flagged.get(i.message_id);
    const d = byId.get(i.id);
    const owner = m && d ? inboxOwnerOf({ ...d, status: i.status }) : undefined;
    return owner ? [{ projectId: m!.project_id, messageId: m!.id, createdAt: m!.created_at, owner }] : [];
  });
}

export interface DeliveryToSend {
  id: string;
  message_id: string;
  project_id: string;
  platform: string;
  /** What the delivery is sent to: a device token, a subscription's endpoint, an address, a number. */
  target: string;
  target_kind: TargetKind;
  apns_environment: string | null;
  install_id: string | null;
  /** The profile the fan-out found the target through (null: named by target alone, or fanned out before migration 0021). */
  custom_id: string | null;
  /** True for a campaign's message: its outcome is also its recipient's on the ledger (store/campaign-outcomes.ts). */
  campaign: boolean;
  status: DeliveryStatus;
  attempts: number;
  /** The message's content, keyed by part; a channel sends its own part. */
  content: MessageContent;
  /** A browser's PushSubscription (web deliveries), from its installation at send time. */
  web_push_subscription: { endpoint: string; keys: { p256dh: string; auth: string } } | null;
  created_at: Date;
  expires_at: Date | null;
  /** Set when the token was invalidated after this delivery was queued. */
  token_invalidated: boolean;
  /** The W3C traceparent of this delivery's provider calls (domain/trace-context.ts). */
  traceparent: string;
}

/** A delivery as a worker found it when it tried to claim it for one provider call. */
export type ClaimedDelivery =
  /** Claimed: this worker, and no other, makes the next provider call until `leaseMs` passes.
   *  `ambiguous`: an earlier call started and its outcome was never recorded (its worker died). */
  | { kind: 'claimed'; delivery: DeliveryToSend; ambiguous: boolean }
  /** Another worker's call is under way; try again once its lease ends. */
  | { kind: 'busy'; retryInMs: number }
  /** Final already, or erased: nothing to do. */
  | { kind: 'done' };

/**
 * Claims deliveries for one provider call each, in one statement: the claim (sending_until) is
 * committed before the call, so a crash during the call leaves a trace the next attempt sees
 * (a durable "attempting" record before the call), and two jobs for one
 * delivery (a redelivery racing a slow worker, a reconciled job) never send concurrently.
 * `now` is the worker's clock (domain/clock.ts), which times the claim.
 */
export async function claimDeliveries(sql: Sql, ids: string[], leaseMs: number, now: Date): Promise<Map<string, ClaimedDelivery>> {
  const out = new Map<string, ClaimedDelivery>(ids.map((id) => [id, { kind: 'done' }]));
  if (!ids.length) return out;
  const rows = await sql<(Omit<DeliveryToSend, 'traceparent'> & { trace: string | null; claimed: boolean; ambiguous: boolean; busy_ms: number | null })[]>`
    with current as (
      select id, sending_until from deliveries where id = any(${ids}::uuid[]) and status = 'queued'
      order by id for update
    ), claimed as (
      update deliveries d set sending_until = ${now}::timestamptz + ${leaseMs} * interval '1 millisecond'
      from current c
      where d.id = c.id and (c.sending_until is null or c.sending_until < ${now}::timestamptz)
      returning d.id, (c.sending_until is not null) as ambiguous
    )
    select d.id, d.message_id, d.project_id, d.platform, d.target, d.target_kind, d.install_id, d.custom_id, d.apns_environment, d.status, d.attempts,
           m.content, (cm.message_id is not null) as campaign, ins.web_push_subscription, m.created_at, m.expires_at, m.trace, (i.token is not null) as token_invalidated,
           (cl.id is not null) as claimed, coalesce(cl.ambiguous, false) as ambiguous,
           case when cl.id is null then ceil(extract(epoch from (c.sending_until - ${now}::timestamptz)) * 1000)::int end as busy_ms
    from current c
    join deliveries d on d.id = c.id
    join messages m on m.id = d.message_id
    left join campaign_messages cm on cm.message_id = d.message_id
    left join claimed cl on cl.id = c.id
    left join invalidated_tokens i on i.project_id = d.project_id and i.platform = d.platform and i.token = d.target
    left join installations ins on d.platform = 'web' and ins.project_id = d.project_id and ins.install_id = d.install_id`;
  for (const r of rows) {
    const { claimed, ambiguous, busy_ms, trace, ...row } = r;
    const delivery = { ...row, traceparent: deliveryTraceparent(trace, row.message_id, row.id) };
    out.set(r.id, claimed ? { kind: 'claimed', delivery, ambiguous } : { kind: 'busy', retryInMs: Math.max(1, busy_ms ?? 1) });
  }
  return out;
}

/** Locks deliveries in id order, so two transactions locking some of the same ones never deadlock. */
export async function lockDeliveries(sql: TransactionSql, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await sql`select 1 from deliveries where id = any(${[...new Set(ids)]}::uuid[]) order by id for update`;
}

/**
 * Gives back claims whose holder never made its call. Only a claim still ending at `until` is
 * cleared: one that lapsed and was taken by another worker meanwhile is that worker's now.
 */
export async function releaseClaims(sql: Sql | TransactionSql, ids: string[], until: Date): Promise<void> {
  if (!ids.length) return;
  await sql`
    update deliveries set sending_until = null
    where id = any(${ids}::uuid[]) and status = 'queued' and sending_until = ${until}::timestamptz`;
}

export interface OutcomeRecord {
  id: string;
  status: DeliveryStatus;
  reason: string | null;
  attempts: number;
  /** For a delivery that stays queued: when its retry job is due. */
  retryInMs?: number | undefined;
}

/**
 * Records many outcomes in one statement, ending their claims. A delivery already final is never
 * moved back. `retryInMs` (for outcomes that stay `queued`) sets when its next job is due, from `now`.
 */
export async function recordOutcomes(sql: Sql | TransactionSql, outcomes: OutcomeRecord[], now: Date): Promise<void> {
  if (!outcomes.length) return;
  // The webhook events of the outcomes that are final (message.sent, message.failed) are written
  // by the same statement (store/webhook-outbox.ts).
  await sql`
    with moved as (
      update deliveries d set status = u.status, reason = u.reason, attempts = u.attempts, updated_at = ${now}::timestamptz,
             sending_until = null, due_at = ${now}::timestamptz + coalesce(u.retry_ms, 0) * interval '1 millisecond'
      from unnest(${outcomes.map((o) => o.id)}::uuid[], ${outcomes.map((o) => o.status)}::text[],
                  ${outcomes.map((o) => o.reason) as string[]}::text[], ${outcomes.map((o) => o.attempts)}::int[],
                  ${outcomes.map((o) => o.retryInMs ?? null) as number[]}::int[])
           as u(id, status, reason, attempts, retry_ms)
      where d.id = u.id and d.status = 'queued'
      returning d.id, d.message_id, d.project_id, d.platform, d.target, d.target_kind, d.status, d.reason
    ), webhook_facts as (
      select m.project_id, ${sql.unsafe(`case when m.status = 'sent' then 'message.sent' else 'message.failed' end`)} as type,
             ${sql.unsafe(deliveryEventData('m'))} as data
      from moved m where m.status = any(${[...finalOutcomeStatuses]}::text[])
    ), ${webhookOutbox(sql, now)}, stats_facts as (
      -- The counters the final outcomes move, in this statement (store/stats-rollup.ts): a hard
      -- bounce is an email refused at RCPT for its mailbox (providers/email/outcome.ts), so both
      -- failed and a bounce.
      select m.project_id, m.message_id, m.platform, case when m.status = 'sent' then 'sent' else 'failed' end as metric, m.reason
      from moved m where m.status = any(${[...finalOutcomeStatuses]}::text[])
      union all
      select m.project_id, m.message_id, m.platform, 'bounces', m.reason from moved m where m.status = 'invalidated' and m.platform = 'email'
    ), ${statsRollup(sql, now)}
    select 1`;
}

/** The outcomes recordOutcomes reports to webhooks: `sent` as message.sent, the others as message.failed. */
const finalOutcomeStatuses = ['sent', 'failed', 'invalidated', 'expired', 'unknown'] as const;

export async function invalidateTokens(
  sql: Sql | TransactionSql,
  tokens: { projectId: string; platform: string; token: string; reason: string }[],
): Promise<void> {
  if (!tokens.length) return;
  await sql`
    insert into invalidated_tokens (project_id, platform, token, reason)
    select * from unnest(${tokens.map((t) => t.projectId)}::uuid[], ${tokens.map((t) => t.platform)}::text[],
                         ${tokens.map((t) => t.token)}::text[], ${tokens.map((t) => t.reason)}::text[])
    on conflict (project_id, platform, token) do update set reason = excluded.reason, invalidated_at = now()`;
}
