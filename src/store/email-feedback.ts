/**
 * Email feedback (migration 0030, docs/analytics.md): the bounces and complaints a report names
 * (domain/email-feedback.ts), recorded in one statement with everything they mean, so they all
 * commit or none does: the engagement row of (delivery, kind), the suppression of the address, the
 * webhook event (store/webhook-outbox.ts) and the counter (store/stats-rollup.ts).
 *
 * A report is tied to the delivery its Message-ID names, when that is one of the project's email
 * deliveries; else to the last email sent to its address in the project; else to none, and then
 * only the address is suppressed. Deduplicated by the engagement's key: the same report posted
 * twice finds its row and moves nothing more (its `count` says how often it came). For a report
 * tied to no delivery the suppression is the key: an address already listed adds nothing.
 *
 * A hard bounce of a delivery already refused at RCPT (status invalidated) was counted then
 * (store/deliveries.ts#recordOutcomes) and is not counted again. A soft bounce counts nothing and
 * suppresses nothing: the next message may get through.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { FeedbackItem, FeedbackKind } from '../domain/email-feedback.js';
import { webhookOutbox } from './webhook-outbox.js';
import { statsRollup } from './stats-rollup.js';
import { retryingConflicts } from './database-errors.js';

type Db = Sql | TransactionSql;

export interface RecordedFeedback {
  kind: FeedbackKind;
  /** The address suppressed (or, for a soft bounce, reported); null when the report named none. */
  address: string | null;
  deliveryId: string | null;
  /** Whether this report was new: false for one seen before (nothing moved). */
  fresh: boolean;
}

/** The statuses of an email that was handed to a mail server, which a report can be about. */
const handedOver = ['sent', 'delivered', 'invalidated'];

export async function recordEmailFeedback(sql: Db, projectId: string, items: readonly FeedbackItem[], now: Date): Promise<RecordedFeedback[]> {
  if (!items.length) return [];
  // A delivery batch that bounces the same address at RCPT takes its counters' rows before the
  // suppression's, and this statement takes them in no set order: on a deadlock it runs again
  // (standing alone, it is idempotent).
  const rows = await retryingConflicts('savepoint' in sql, () => sql<{ ord: number; kind: FeedbackKind; address: string | null; delivery_id: string | null; fresh: boolean }[]>`
    with input as (
      select u.ord::int as ord, u.kind, u.address, u.delivery_id, u.detail
        from unnest(${items.map((i) => i.kind)}::text[], ${items.map((i) => i.address) as string[]}::text[],
                    ${items.map((i) => i.deliveryId) as string[]}::uuid[], ${items.map((i) => i.detail)}::text[])
             with ordinality as u(kind, address, delivery_id, detail, ord)
    ), resolved as (
      select i.ord, i.kind, i.detail, d.id as delivery_id, d.message_id, d.platform, d.status,
             coalesce(lower(d.target), i.address) as address
        from input i
        left join lateral (
          select x.* from (
            (select d.id, d.message_id, d.platform, d.status, d.target, 0 as pref from deliveries d
              where d.id = i.delivery_id and d.project_id = ${projectId} and d.platform = 'email')
            union all
            (select d.id, d.message_id, d.platform, d.status, d.target, 1 as pref from deliveries d
              where i.address is not null and d.project_id = ${projectId} and d.platform = 'email'
                and lower(d.target) = i.address and d.status = any(${handedOver}::text[])
              order by d.created_at desc limit 1)
          ) x order by x.pref limit 1
        ) d on true
    ), keyed as (
      select distinct on (delivery_id, kind) delivery_id, kind, detail, message_id, platform, status, address
        from resolved where delivery_id is not null order by delivery_id, kind, ord
    ), up as (
      insert into engagements (project_id, delivery_id, kind, link, machine, count, first_at, last_at, detail)
      select ${projectId}, delivery_id, kind, -1, false, 1, ${now}, ${now}, detail from keyed order by delivery_id, kind
      on conflict (delivery_id, kind, link, machine) do update
        set count = engagements.count + 1, last_at = excluded.last_at
      returning delivery_id, kind, (xmax = 0) as fresh
    ), suppressed as (
      insert into email_suppressions (project_id, address, reason, detail)
      select distinct on (r.address) ${projectId}::uuid, r.address, case r.kind when 'bounce' then 'hard_bounce' else 'complaint' end, r.detail
        from resolved r
       where r.kind in ('bounce', 'complaint') and r.address is not null
       order by r.address, r.ord
      on conflict (project_id, address) do nothing
      returning address
    ), counted as (
      -- What moves a counter and is an event: a new report of a delivery (not a bounce already
      -- counted at RCPT), or, tied to none, a new suppression; each once.
      select k.kind, k.detail, k.delivery_id, k.message_id, k.platform, k.address
        from keyed k join up on up.delivery_id = k.delivery_id and up.kind = k.kind
       where up.fresh and k.kind in ('bounce', 'complaint') and not (k.kind = 'bounce' and k.status = 'invalidated')
      union all
      (select distinct on (r.address) r.kind, r.detail, null::uuid, null::uuid, null::text, r.address
         from resolved r join suppressed s on s.address = r.address
        where r.delivery_id is null and r.kind in ('bounce', 'complaint')
        order by r.address, r.ord)
    ), webhook_facts as (
      select ${projectId}::uuid as project_id, case c.kind when 'bounce' then 'email.bounced' else 'email.complained' end as type,
             jsonb_build_object('address', c.address, 'reason', case c.kind when 'bounce' then 'hard_bounce' else 'complaint' end,
                                'detail', c.detail, 'delivery_id', c.delivery_id, 'message_id', c.message_id) as data
        from counted c
    ), ${webhookOutbox(sql, now)}, stats_facts as (
      select ${projectId}::uuid as project_id, c.message_id, c.platform,
             case c.kind when 'bounce' then 'bounces' else 'complaints' end as metric, null::text as reason
        from counted c where c.delivery_id is not null
    ), ${statsRollup(sql, now)}
    select r.ord, r.kind, r.address, r.delivery_id,
           coalesce(up.fresh, s.address is not null) as fresh
      from resolved r
      left join up on up.delivery_id = r.delivery_id and up.kind = r.kind
      left join suppressed s on s.address = r.address and r.delivery_id is null
     order by r.ord`);
  return rows.map((r) => ({ kind: r.kind, address: r.address, deliveryId: r.delivery_id, fresh: r.fresh }));
}
