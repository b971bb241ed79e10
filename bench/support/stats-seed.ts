/**
 * The analytics of bench/stats.ts, written set-based in the scratch database: a project's
 * campaigns and transactional groups (its "sources"), their messages and deliveries, the
 * engagements those deliveries had (receipts, direct and influenced push opens, email opens with
 * machine opens apart, clicks), the ledger's skips, and the hourly counters Herald's rollup
 * (store/stats-rollup.ts) would have written for all of them.
 *
 * Every row is a function of its index (PostgreSQL's hashint8extended as the random source), so
 * the same facts can be written two ways: here in a few large statements, and for a small sample
 * through Herald's own statements (bench/support/stats-replay.ts), whose counters must come out
 * equal to what `writeRollup` computes for the same facts.
 *
 * Per source, deliveries i in [first_i, first_i + n): one message per 100 of them (a campaign's
 * batch), 70% of messages push (4:3 iOS and Android), 30% email; A/B campaigns alternate the
 * variant by message. A campaign's sends spread over 2 hours from t0, a transactional group's over
 * the whole range. 2% of deliveries fail (token or mailbox invalid: an email one is a bounce). Of
 * the push deliveries sent, 90% are received (within a minute), 8% opened (delays with a 12-hour
 * mean), 4% credited an influenced open (within 3 h of receipt); of the emails sent, 20% fetched by
 * a privacy proxy within 10 minutes (a machine open), 35% opened by a person (30% of them twice),
 * 8% clicked (one of three links, within 30 minutes of the open). Nothing later than `until`.
 */
import type { Sql } from 'postgres';
import { channelCase } from '../../src/store/webhook-outbox.js';
import { statsMetrics } from '../../src/store/stats-rollup.js';

export interface SeedSource {
  kind: 'campaign' | 'transactional';
  /** The campaign's id, or the transactional group's name. */
  id: string;
  /** Deliveries, a multiple of 100. */
  n: number;
  /** The first send. */
  t0: Date;
  /** Sends spread over this many seconds from t0. */
  windowSeconds: number;
  /** Two variants (A/B), by message. */
  ab: boolean;
}

/** The skipped recipients of a campaign's ledger per 100 deliveries, and their reasons. */
export const skipsPer100 = 5;
export const skipReasons = ['opted_out', 'capped: one promo a day', 'no_reachable_channel'];

/** The generator's tables and views; once per database. */
export async function createGenerator(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create table bench_sources (
      project_id uuid not null, source_kind text not null, source_id text not null, campaign_id uuid,
      first_i bigint not null, n integer not null, t0 timestamptz not null, window_s float8 not null, ab boolean not null,
      until timestamptz not null);
    -- A uniform number in [0, 1) from an index and a stream number.
    create function bench_u(i bigint, k integer) returns float8 language sql immutable parallel safe
      as $$ select (hashint8extended(i, k) & 1048575)::float8 / 1048576 $$;
    create view bench_deliveries as
      select s.project_id, s.source_kind, s.source_id, s.campaign_id, s.t0, s.until, g.i, g.i - s.first_i as j,
             md5(s.project_id::text || ':d:' || g.i)::uuid as id,
             md5(s.project_id::text || ':m:' || (g.i / 100))::uuid as message_id,
             case when s.ab then ((g.i - s.first_i) / 100 % 2)::text else '' end as variant,
             case when bench_u(g.i / 100, 0) >= 0.7 then 'email' when bench_u(g.i, 1) < 4.0 / 7 then 'ios' else 'android' end as platform,
             s.t0 + ((g.i - s.first_i)::float8 / s.n * s.window_s) * interval '1 second' as sent_at,
             bench_u(g.i, 2) < 0.02 as failed,
             bench_u(g.i, 3) as u3, bench_u(g.i, 4) as u4, bench_u(g.i, 5) as u5, bench_u(g.i, 6) as u6, bench_u(g.i, 7) as u7
        from bench_sources s cross join lateral generate_series(s.first_i, s.first_i + s.n - 1) as g(i);
    -- One row per engagement as its first report made it; again_at: the second report of an
    -- email opened twice (null when there was none before until).
    create view bench_events as
      select d.project_id, d.source_kind, d.source_id, d.variant, d.platform, d.id, e.kind, e.link, e.machine, e.at,
             case when e.again_at < d.until then e.again_at end as again_at
        from bench_deliveries d
        cross join lateral (
          select 'received' as kind, -1 as link, false as machine, d.sent_at + d.u3 * interval '60 seconds' as at, null::timestamptz as again_at
           where d.platform <> 'email' and d.u4 < 0.9
          union all
          select 'open', -1, false, d.sent_at + (-ln(1 - d.u5) * 12) * interval '1 hour', null
           where d.platform <> 'email' and d.u4 < 0.08
          union all
          select 'influenced_open', -1, false, d.sent_at + d.u3 * interval '60 seconds' + d.u5 * interval '3 hours', null
           where d.platform <> 'email' and d.u4 >= 0.08 and d.u4 < 0.12
          union all
          select 'open', -1, true, d.sent_at + d.u3 * interval '10 minutes', null
           where d.platform = 'email' and d.u4 < 0.2
          union all
          select 'open', -1, false, d.sent_at + (-ln(1 - d.u5) * 12) * interval '1 hour',
                 case when d.u3 < 0.3 then d.sent_at + (-ln(1 - d.u5) * 12 - ln(1 - d.u7) * 12) * interval '1 hour' end
           where d.platform = 'email' and d.u6 < 0.35
          union all
          select 'click', (d.i % 3)::int, false, d.sent_at + (-ln(1 - d.u5) * 12) * interval '1 hour' + d.u7 * interval '30 minutes', null
           where d.platform = 'email' and d.u6 < 0.08
        ) e
       where not d.failed and e.at < d.until;
    -- The campaigns' ledger skips (channel '': no channel was chosen), at the fan-out's hour.
    create view bench_ledger_skips as
      select s.project_id, s.source_id, s.t0, s.ab, case when s.ab then k % 2 else 0 end as variant,
             (array[${skipReasons.map((r) => `'${r.replace(/'/g, "''")}'`).join(', ')}])[k % ${skipReasons.length} + 1] as reason
        from bench_sources s cross join lateral generate_series(1, s.n / 100 * ${skipsPer100}) as k
       where s.source_kind = 'campaign';`);
}

/** Records a project's sources (their index ranges laid end to end). */
export async function addSources(sql: Sql, projectId: string, sources: SeedSource[], until: Date): Promise<void> {
  let first = 0;
  const rows = sources.map((s) => {
    if (s.n % 100) throw new Error(`a source's deliveries must be a multiple of 100: ${s.n}`);
    const row = {
      project_id: projectId, source_kind: s.kind, source_id: s.id, campaign_id: s.kind === 'campaign' ? s.id : null,
      first_i: first, n: s.n, t0: s.t0, window_s: s.windowSeconds, ab: s.ab, until,
    };
    first += s.n;
    return row;
  });
  await sql`insert into bench_sources ${sql(rows)}`;
}

/**
 * The project's campaigns, messages and deliveries. `queued`: deliveries as the fan-out leaves
 * them, for their outcomes to be recorded by Herald's own statements; else as those statements
 * leave them (sent or invalidated, received_at set).
 */
export async function writeDeliveries(sql: Sql, projectId: string, o: { queued: boolean }): Promise<void> {
  await sql`
    insert into campaigns (id, project_id, name, state, definition, labels, created_at, updated_at, started_at, finished_at, occurrences)
    select campaign_id, project_id, 'campaign ' || source_id, 'finished',
           jsonb_build_object('when', jsonb_build_object('type', 'now'), 'channels', jsonb_build_array('push', 'email'),
             'variants', case when ab then 2 else 1 end),
           '{promo}', t0 - interval '1 day', t0 + interval '2 hours', t0, t0 + interval '2 hours', 1
      from bench_sources where project_id = ${projectId} and source_kind = 'campaign'`;
  await sql`
    insert into messages (id, project_id, group_id, recipients, content, created_at, fanned_out_at)
    select md5(s.project_id::text || ':m:' || m)::uuid, s.project_id,
           case when s.source_kind = 'campaign' then 'campaign:' || s.source_id else s.source_id end,
           '{"custom_ids": []}'::jsonb,
           case when bench_u(m, 0) >= 0.7 then '{"email": {"subject": "Our news", "html": "<p>Hello</p>"}}'::jsonb
                else '{"push": {"title": "Hello", "body": "Our news"}}'::jsonb end,
           s.t0 + ((m * 100 - s.first_i)::float8 / s.n * s.window_s) * interval '1 second',
           s.t0 + ((m * 100 - s.first_i)::float8 / s.n * s.window_s) * interval '1 second'
      from bench_sources s cross join lateral generate_series(s.first_i / 100, (s.first_i + s.n) / 100 - 1) as m
     where s.project_id = ${projectId}`;
  await sql`
    insert into campaign_messages (message_id, campaign_id, occurrence, planned_at, variant)
    select md5(s.project_id::text || ':m:' || m)::uuid, s.campaign_id, 1, s.t0,
           case when s.ab then ((m * 100 - s.first_i) / 100 % 2)::text else '' end
      from bench_sources s cross join lateral generate_series(s.first_i / 100, (s.first_i + s.n) / 100 - 1) as m
     where s.project_id = ${projectId} and s.source_kind = 'campaign'`;
  await sql`
    insert into deliveries (id, message_id, project_id, platform, target, target_kind, install_id, apns_environment, custom_id,
                            status, reason, attempts, created_at, updated_at, due_at, received_at)
    select d.id, d.message_id, d.project_id, d.platform,
           case when d.platform = 'email' then 'user' || d.j || '@example.com' else lpad(to_hex(d.i), 16, '0') || repeat('c', 48) end,
           case when d.platform = 'email' then 'address' else 'token' end,
           case when d.platform = 'email' then null else 'install-' || d.j end,
           case when d.platform = 'ios' then 'production' end,
           'user' || d.j,
           ${o.queued ? sql`'queued', null, 0` : sql`case when d.failed then 'invalidated' else 'sent' end,
             case when d.failed then (case when d.platform = 'email' then 'mailbox_unavailable' else 'token_invalid' end) end, 1`},
           d.sent_at - interval '1 second', d.sent_at, d.sent_at,
           ${o.queued ? sql`null` : sql`case when not d.failed and d.platform <> 'email' and d.u4 < 0.9 and d.sent_at + d.u3 * interval '60 seconds' < d.until
                                         then d.sent_at + d.u3 * interval '60 seconds' end`}
      from bench_deliveries d where d.project_id = ${projectId}`;
}

/** The project's engagement rows, as store/engagements.ts leaves them (a click also moves its "any link" row, -1). */
export const engagementRows = (sql: Sql, projectId: string) => sql`
  select e.project_id, e.id as delivery_id, e.kind, l.link, e.machine,
         case when e.again_at is null then 1 else 2 end as count, e.at as first_at, coalesce(e.again_at, e.at) as last_at
    from bench_events e cross join lateral (select e.link union all select -1 where e.kind = 'click' and e.link <> -1) as l(link)
   where e.project_id = ${projectId}`;

export async function writeEngagements(sql: Sql, projectId: string): Promise<void> {
  await sql`insert into engagements (project_id, delivery_id, kind, link, machine, count, first_at, last_at) ${engagementRows(sql, projectId)}`;
}

/**
 * The hourly counters of the project's facts, into `hourly` and `skips` (stats_hourly and
 * stats_skips_hourly, or tables like them), grouped by the rollup's key: each fact counted in the
 * UTC hour it was recorded, under its source, variant and channel, as store/stats-rollup.ts does.
 */
export async function writeRollup(sql: Sql, projectId: string, into: { hourly: string; skips: string }): Promise<void> {
  const key = 'project_id, source_kind, source_id, variant, channel, hour';
  await sql`
    with facts as (
      select d.project_id, d.source_kind, d.source_id, d.variant, d.platform, d.sent_at as at,
             case when d.failed then 'failed' else 'sent' end as metric
        from bench_deliveries d where d.project_id = ${projectId}
      union all
      select d.project_id, d.source_kind, d.source_id, d.variant, d.platform, d.sent_at, 'bounces'
        from bench_deliveries d where d.project_id = ${projectId} and d.failed and d.platform = 'email'
      union all
      select e.project_id, e.source_kind, e.source_id, e.variant, e.platform, e.at, m.metric
        from bench_events e cross join lateral unnest(case
               when e.kind = 'received' then array['delivered']
               when e.kind = 'open' and e.machine then array['opens_machine']
               when e.kind = 'open' then array['opens_unique', 'opens_total']
               when e.kind = 'influenced_open' then array['opens_influenced']
               when e.kind = 'click' then array['clicks_unique', 'clicks_total'] end) as m(metric)
       where e.project_id = ${projectId}
      union all
      select e.project_id, e.source_kind, e.source_id, e.variant, e.platform, e.again_at, 'opens_total'
        from bench_events e where e.project_id = ${projectId} and e.again_at is not null
    )
    insert into ${sql(into.hourly)} (${sql.unsafe(key)}, ${sql.unsafe(statsMetrics.join(', '))})
    select project_id, source_kind, source_id, variant, ${sql.unsafe(channelCase('platform'))}, date_trunc('hour', at, 'UTC'),
           ${sql.unsafe(statsMetrics.map((m) => `count(*) filter (where metric = '${m}')`).join(', '))}
      from facts group by 1, 2, 3, 4, 5, 6`;
  // The ledger's skips: under the campaign, channel '', in the fan-out's hour.
  const variant = `case when ab then variant::text else '' end`;
  await sql`
    insert into ${sql(into.hourly)} (${sql.unsafe(key)}, skipped)
    select project_id, 'campaign', source_id, ${sql.unsafe(variant)}, '', date_trunc('hour', t0, 'UTC'), count(*)
      from bench_ledger_skips where project_id = ${projectId} group by 1, 2, 3, 4, 5, 6`;
  await sql`
    insert into ${sql(into.skips)} (${sql.unsafe(key)}, reason, skipped)
    select project_id, 'campaign', source_id, ${sql.unsafe(variant)}, '', date_trunc('hour', t0, 'UTC'), reason, count(*)
      from bench_ledger_skips where project_id = ${projectId} group by 1, 2, 3, 4, 5, 6, 7`;
}
