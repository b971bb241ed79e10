/**
 * The rollups' writing half (migration 0025, docs/analytics.md): the common table expressions a
 * statement that records a fact appends to add it to the hourly counters in the same statement,
 * as store/webhook-outbox.ts does for webhook events. So a counter moves exactly when its fact is
 * committed, and no loop computes it afterwards.
 *
 * The caller's statement defines `stats_facts(project_id uuid, message_id uuid, platform text,
 * metric text, reason text)`, one row per fact (metric: one of `statsMetrics`; reason: a skip's),
 * and then `, ${statsRollup(sql, now)}`. The facts are grouped by their row's key first, so each
 * counter row is written once per statement, in key order: two statements never take two rows in
 * opposite orders (no deadlock), and a hot row (one campaign's hour) is locked once per batch.
 */
import type { Sql, TransactionSql } from 'postgres';
import { channelCase } from './webhook-outbox.js';

type Db = Sql | TransactionSql;

/** The counters of stats_hourly, each a metric a fact can name. */
export const statsMetrics = [
  'sent', 'delivered', 'failed', 'skipped', 'bounces', 'complaints', 'unsubscribes',
  'opens_unique', 'opens_total', 'opens_machine', 'opens_influenced', 'clicks_unique', 'clicks_total',
] as const;
export type StatsMetric = (typeof statsMetrics)[number];

/** Where a message came from, in SQL, from its group_id (domain/capping/rules.ts#kindOfGroup, written out). */
const sourceKind = (g: string) =>
  `case when ${g} like 'campaign:%' then 'campaign' when ${g} like 'automation:%' then 'automation' else 'transactional' end`;
const sourceId = (g: string) =>
  `case when ${g} like 'campaign:%' or ${g} like 'automation:%' then substr(${g}, strpos(${g}, ':') + 1) else ${g} end`;

const key = 'project_id, source_kind, source_id, variant, channel, hour';

const hourOf = (sql: Db, now: Date | undefined) => sql`date_trunc('hour', coalesce(${now ?? null}::timestamptz, now()), 'UTC')`;

export const statsRollup = (sql: Db, now: Date | undefined) => sql`
  stats_keyed as (
    select f.project_id, ${sql.unsafe(sourceKind('m.group_id'))} as source_kind, ${sql.unsafe(sourceId('m.group_id'))} as source_id,
           coalesce(cm.variant, '') as variant, ${sql.unsafe(channelCase('f.platform'))} as channel,
           ${hourOf(sql, now)} as hour, f.metric, f.reason
      from stats_facts f
      join messages m on m.id = f.message_id
      left join campaign_messages cm on cm.message_id = f.message_id
  ), ${statsCount(sql)}`;

/**
 * A campaign's recipients skipped or failed before any message was made for them (the control
 * group, left the audience, unreachable, a template error...): the caller's statement defines
 * `stats_ledger(variant smallint, status text, reason text)` from the ledger rows it wrote, and
 * they count under the campaign with channel '' (none was chosen) and variant 'control' for the
 * control group.
 */
export const ledgerRollup = (sql: Db, o: { projectId: string; campaignId: string; variants: number }, now: Date) => sql`
  stats_keyed as (
    select ${o.projectId}::uuid as project_id, 'campaign' as source_kind, ${o.campaignId}::text as source_id,
           case when l.variant < 0 then 'control' when ${o.variants} > 1 then l.variant::text else '' end as variant, '' as channel,
           ${hourOf(sql, now)} as hour, case when l.status = 'skipped' then 'skipped' else 'failed' end as metric, l.reason
      from stats_ledger l where l.status in ('skipped', 'failed')
  ), ${statsCount(sql)}`;

/** The counting half: adds `stats_keyed(project_id, source_kind, source_id, variant, channel, hour, metric, reason)`. */
const statsCount = (sql: Db) => sql`
  stats_counted as (
    insert into stats_hourly (${sql.unsafe(key)}, ${sql.unsafe(statsMetrics.join(', '))})
    select ${sql.unsafe(key)}, ${sql.unsafe(statsMetrics.map((x) => `count(*) filter (where metric = '${x}')`).join(', '))}
      from stats_keyed group by ${sql.unsafe(key)} order by ${sql.unsafe(key)}
    on conflict (${sql.unsafe(key)}) do update set
      ${sql.unsafe(statsMetrics.map((x) => `${x} = stats_hourly.${x} + excluded.${x}`).join(', '))}
    returning 1
  ), stats_skips_counted as (
    insert into stats_skips_hourly (${sql.unsafe(key)}, reason, skipped)
    select ${sql.unsafe(key)}, coalesce(reason, ''), count(*)
      from stats_keyed where metric = 'skipped'
     group by ${sql.unsafe(key)}, coalesce(reason, '') order by ${sql.unsafe(key)}, coalesce(reason, '')
    on conflict (${sql.unsafe(key)}, reason) do update set skipped = stats_skips_hourly.skipped + excluded.skipped
    returning 1
  )`;
