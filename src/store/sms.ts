/**
 * SMS state in PostgreSQL: what each send came to at Twilio (its message SID, segments, encoding),
 * the statuses Twilio's callbacks report (kept monotonic: a final status never moves back), and the
 * numbers that opted out. Every statement is scoped to its project.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { SmsEncoding } from '../domain/sms-segments.js';
import { replaceableBy, type SmsCallbackStatus } from '../domain/sms-status.js';
import { deliveryEventData, webhookOutbox } from './webhook-outbox.js';
import { statsRollup } from './stats-rollup.js';
import { recordCampaignOutcomes } from './campaign-outcomes.js';
import { retryingConflicts } from './database-errors.js';

type Db = Sql | TransactionSql;

/** What one accepted send is recorded with, beside its status (recordOutcomes in deliveries.ts). */
export interface SmsSendRecord {
  deliveryId: string;
  providerMessageId: string;
  segments: number;
  encoding: SmsEncoding;
}

/** Stamps accepted sends with their message SID, segments and encoding, in one statement. */
export async function recordSmsSends(sql: Db, projectId: string, sends: SmsSendRecord[]): Promise<void> {
  if (!sends.length) return;
  await sql`
    update deliveries d set provider_message_id = u.sid, segments = u.segments, encoding = u.encoding, updated_at = now()
    from unnest(${sends.map((s) => s.deliveryId)}::uuid[], ${sends.map((s) => s.providerMessageId)}::text[],
                ${sends.map((s) => s.segments)}::int[], ${sends.map((s) => s.encoding)}::text[])
         as u(id, sid, segments, encoding)
    where d.id = u.id and d.project_id = ${projectId}`;
}

export interface SmsStatusUpdate {
  /** Twilio's MessageSid. */
  providerMessageId: string;
  /**
   * The delivery, when the callback URL names it (smsStatusCallbackUrl does): found even if the
   * callback beats the worker's recording of the SID. Without it, the SID finds the delivery.
   */
  deliveryId?: string | undefined;
  status: SmsCallbackStatus;
  reason: string | null;
}

/**
 * Records one callback's status. `updated`: the delivery moved; `unchanged`: it is already at that
 * status or further (an out-of-order `sent` after `delivered`, a repeated callback); `unknown`: no
 * delivery of this project has that SID (or id).
 */
export async function recordSmsStatus(sql: Db, projectId: string, u: SmsStatusUpdate, now?: Date): Promise<'updated' | 'unchanged' | 'unknown'> {
  // A campaign recipient's outcome follows its delivery in the same transaction: a text the
  // carrier refused after Twilio accepted it turns that recipient from delivered to failed.
  const run = async (tx: TransactionSql) => {
    const r = await moveSmsStatus(tx, projectId, u, now);
    if (r.moved?.custom_id != null) await recordCampaignOutcomes(tx, { pairs: [{ message_id: r.moved.message_id, custom_id: r.moved.custom_id }] }, now ?? new Date());
    return r.result;
  };
  return 'savepoint' in sql ? run(sql) : sql.begin(run);
}

async function moveSmsStatus(
  sql: TransactionSql, projectId: string, u: SmsStatusUpdate, now: Date | undefined,
): Promise<{ result: 'updated' | 'unchanged' | 'unknown'; moved?: { message_id: string; custom_id: string | null } }> {
  const from = [...replaceableBy(u.status)];
  const match = u.deliveryId !== undefined
    // The SID must agree once known, so a signed callback for one message cannot move another.
    ? sql`d.id = ${u.deliveryId} and (d.provider_message_id is null or d.provider_message_id = ${u.providerMessageId})`
    : sql`d.provider_message_id = ${u.providerMessageId}`;
  const rows = await sql<{ moved: boolean; message_id: string | null; custom_id: string | null }[]>`
    with target as (
      select d.id, d.status from deliveries d where d.project_id = ${projectId} and ${match} for update
    ), moved as (
      update deliveries d set status = ${u.status}, reason = ${u.reason},
             provider_message_id = coalesce(d.provider_message_id, ${u.providerMessageId}), updated_at = now()
      from target t where d.id = t.id and t.status = any(${from}::text[])
      returning d.id, d.message_id, d.project_id, d.platform, d.target, d.target_kind, d.status, d.reason, d.custom_id,
                (t.status = 'queued') as unrecorded
    ), webhook_facts as (
      -- A callback that beats the worker's commit (Twilio calls back as soon as it has the text)
      -- finds the delivery still queued: the worker's outcome will find it moved and write
      -- nothing, so the send is reported here, before the provider's confirmation or refusal
      -- (store/webhook-outbox.ts).
      select m.project_id, 'message.sent' as type, ${sql.unsafe(deliveryEventData('m', `'sent'`, 'null'))} as data
      from moved m where m.unrecorded
      union all
      select m.project_id, case when m.status = 'delivered' then 'message.delivered' else 'message.failed' end as type,
             ${sql.unsafe(deliveryEventData('m'))} as data
      from moved m where m.status in ('delivered', 'undelivered', 'failed')
    ), ${webhookOutbox(sql, now)}, stats_facts as (
      -- The send, counted here for the same reason, and the carrier's receipt or its refusal after
      -- the send was counted as sent (store/stats-rollup.ts).
      select m.project_id, m.message_id, m.platform, 'sent' as metric, null as reason from moved m where m.unrecorded
      union all
      select m.project_id, m.message_id, m.platform, case when m.status = 'delivered' then 'delivered' else 'failed' end as metric, m.reason
      from moved m where m.status in ('delivered', 'undelivered', 'failed')
    ), ${statsRollup(sql, now)}
    select exists (select 1 from moved) as moved, (select message_id from moved) as message_id, (select custom_id from moved) as custom_id
      from target limit 1`;
  if (!rows.length) return { result: 'unknown' };
  const r = rows[0]!;
  return r.moved ? { result: 'updated', moved: { message_id: r.message_id!, custom_id: r.custom_id } } : { result: 'unchanged' };
}

/** Where an opt-out came from: a keyword the user sent, or the provider refusing with 21610. */
export type OptOutSource = 'inbound_keyword' | 'provider_21610' | 'api';

/**
 * Opts numbers out; a number already out keeps its first source and time. A number newly out is
 * an sms.opted_out event, written by the same statement (store/webhook-outbox.ts); and, when the
 * person sent STOP, one `unsubscribes` for the last text the project sent to that number
 * (store/stats-rollup.ts), the message they answered. A STOP sent again, or retried by Twilio,
 * finds the number out already and counts nothing more. An opt-out Twilio reports at send time
 * (21610) or one made through the API is no answer to a message, and counts for none.
 */
export async function optOutPhones(sql: Db, projectId: string, phones: string[], source: OptOutSource, now?: Date): Promise<void> {
  if (!phones.length) return;
  // This statement takes the opt-out's row and a counter's row in no set order; a delivery batch
  // recording a 21610 for the same number takes its counters first, then the opt-out, so the two
  // can deadlock. The STOP's statement, standing alone and idempotent, is then run again.
  await retryingConflicts('savepoint' in sql, () => sql`
    with added as (
      insert into sms_opt_outs (project_id, phone, source)
      select ${projectId}, p, ${source} from unnest(${phones}::text[]) as p
      on conflict (project_id, phone) do nothing
      returning project_id, phone, source
    ), webhook_facts as (
      select a.project_id, 'sms.opted_out' as type, jsonb_build_object('phone', a.phone, 'source', a.source) as data from added a
    ), ${webhookOutbox(sql, now)}, stats_facts as (
      select d.project_id, d.message_id, d.platform, 'unsubscribes' as metric, null::text as reason
        from added a
        cross join lateral (
          select d.project_id, d.message_id, d.platform from deliveries d
           where d.project_id = a.project_id and d.platform = 'sms' and lower(d.target) = lower(a.phone)
             and d.status <> 'skipped'
           order by d.created_at desc limit 1
        ) d
       where a.source = 'inbound_keyword'
    ), ${statsRollup(sql, now)}
    select 1`);
}

/** Opts numbers back in (START, UNSTOP, YES). */
export async function optInPhones(sql: Db, projectId: string, phones: string[]): Promise<void> {
  if (!phones.length) return;
  await sql`delete from sms_opt_outs where project_id = ${projectId} and phone = any(${phones}::text[])`;
}

/** Which of `phones` are opted out of this project, in one statement. */
export async function optedOutPhones(sql: Db, projectId: string, phones: string[]): Promise<Set<string>> {
  if (!phones.length) return new Set();
  const rows = await sql<{ phone: string }[]>`
    select phone from sms_opt_outs where project_id = ${projectId} and phone = any(${phones}::text[])`;
  return new Set(rows.map((r) => r.phone));
}
