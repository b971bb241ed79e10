/**
 * Engagements (migration 0025, docs/analytics.md): receipts, opens and clicks, one row per natural
 * key (delivery, kind, link, machine), written with the counters they move in one statement
 * (store/stats-rollup.ts). A report seen again finds its row: `count` and `last_at` move, and a
 * "unique" counter moved only when the row was made. The row's insert takes its key's index slot,
 * so two concurrent first reports are one insert and one update: counted once.
 *
 * Which repeats count in the totals: an email's pixel loaded again or a link clicked again is
 * another open or click (opens_total, clicks_total); a push is opened once, so a push report seen
 * again is a retry and moves nothing. A click moves the delivery's "any link" row (link -1) as
 * well as its link's: the first click on any link is the unique one.
 */
import type { Sql, TransactionSql } from 'postgres';
import { statsRollup } from './stats-rollup.js';

type Db = Sql | TransactionSql;

export type EngagementKind = 'received' | 'open' | 'influenced_open' | 'click';

export interface NewEngagement {
  deliveryId: string;
  kind: EngagementKind;
  /** The link's index in the email, for a click; -1 for the other kinds. */
  link?: number | undefined;
  /** An open fetched by a proxy rather than a person (domain/machine-open.ts). */
  machine?: boolean | undefined;
}

/**
 * Records engagements of one project's deliveries in one statement, with their counters. A
 * delivery id that is not one of the project's is ignored. Answers how many rows were new.
 */
export async function recordEngagements(sql: Db, projectId: string, list: readonly NewEngagement[], now: Date): Promise<number> {
  if (!list.length) return 0;
  const [row] = await sql<{ fresh: number }[]>`
    with input as (
      select u.delivery_id, u.kind, u.link, u.machine, d.message_id, d.platform
        from unnest(${list.map((e) => e.deliveryId)}::uuid[], ${list.map((e) => e.kind)}::text[],
                    ${list.map((e) => e.link ?? -1)}::int[], ${list.map((e) => String(e.machine ?? false))}::text[]::bool[]) as u(delivery_id, kind, link, machine)
        join deliveries d on d.id = u.delivery_id and d.project_id = ${projectId}
    ), keyed as (
      select delivery_id, kind, link, machine, message_id, platform from input
      union all
      select delivery_id, kind, -1, machine, message_id, platform from input where kind = 'click' and link <> -1
    ), grouped as (
      select delivery_id, kind, link, machine, min(message_id::text)::uuid as message_id, min(platform) as platform, count(*)::int as n
        from keyed group by delivery_id, kind, link, machine
    ), up as (
      insert into engagements (project_id, delivery_id, kind, link, machine, count, first_at, last_at)
      select ${projectId}, delivery_id, kind, link, machine, n, ${now}, ${now} from grouped
       order by delivery_id, kind, link, machine
      on conflict (delivery_id, kind, link, machine) do update
        set count = engagements.count + excluded.count, last_at = excluded.last_at
      returning delivery_id, kind, link, machine, (xmax = 0) as fresh
    ), moves as (
      select g.message_id, g.platform, v.metric, v.k
        from up join grouped g using (delivery_id, kind, link, machine)
        cross join lateral (values
          ('delivered', case when up.kind = 'received' and up.fresh then 1 else 0 end),
          ('opens_unique', case when up.kind = 'open' and not up.machine and up.fresh then 1 else 0 end),
          ('opens_total', case when up.kind <> 'open' or up.machine then 0 when g.platform = 'email' then g.n when up.fresh then 1 else 0 end),
          ('opens_machine', case when up.kind = 'open' and up.machine and up.fresh then 1 else 0 end),
          ('opens_influenced', case when up.kind = 'influenced_open' and up.fresh then 1 else 0 end),
          ('clicks_unique', case when up.kind = 'click' and up.link = -1 and up.fresh then 1 else 0 end),
          ('clicks_total', case when up.kind = 'click' and up.link = -1 then g.n else 0 end)
        ) as v(metric, k)
       where v.k > 0
    ), stats_facts as (
      select ${projectId}::uuid as project_id, m.message_id, m.platform, m.metric, null::text as reason
        from moves m cross join generate_series(1, m.k)
    ), ${statsRollup(sql, now)}
    select count(*) filter (where fresh)::int as fresh from up`;
  return row!.fresh;
}

/**
 * The push an app open is credited to as an influenced open: the one this installation received
 * last, within `windowMs` before the open, and not opened directly (a direct open is its own
 * count). One statement for the batch; answers the delivery ids, one per open at most.
 */
export async function influencedDeliveries(sql: Db, projectId: string, installId: string, times: readonly string[], windowMs: number): Promise<string[]> {
  if (!times.length) return [];
  const rows = await sql<{ id: string }[]>`
    select distinct c.id from unnest(${times as string[]}::timestamptz[]) as t(at)
    cross join lateral (
      select d.id from deliveries d
       where d.project_id = ${projectId} and d.install_id = ${installId} and d.received_at is not null
         and d.received_at <= t.at and d.received_at > t.at - ${windowMs} * interval '1 millisecond'
         and not exists (select 1 from engagements e where e.delivery_id = d.id and e.kind = 'open')
       order by d.received_at desc limit 1
    ) c`;
  return rows.map((r) => r.id);
}
