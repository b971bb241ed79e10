/**
 * The check behind bench/support/stats-seed.ts: a small project's facts recorded one by one through
 * Herald's own statements (store/deliveries.ts#recordOutcomes at each send, store/engagements.ts at
 * each report in time order, the ledger's skips through store/stats-rollup.ts#ledgerRollup), each
 * with its own time as the clock's `now`; then the counters and engagement rows those statements
 * wrote are compared with what the set-based seed computes for the same facts. Any difference
 * means the benchmark's 10 million rows would not be what Herald writes.
 */
import type { Sql } from 'postgres';
import { recordOutcomes } from '../../src/store/deliveries.js';
import { recordEngagements, type EngagementKind } from '../../src/store/engagements.js';
import { ledgerRollup } from '../../src/store/stats-rollup.js';
import { engagementRows, writeDeliveries, writeRollup } from './stats-seed.js';

export interface ReplayCheck {
  deliveries: number;
  reports: number;
  hourlyRows: number;
  skipRows: number;
  engagementRows: number;
  /** Rows of either side missing or different on the other: all 0 when the seed is exact. */
  differences: { hourly: number; skips: number; engagements: number };
}

/** Millisecond instants (floored), as Herald's clock hands them in. */
const ms = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint`;

export async function replayAndCompare(sql: Sql, projectId: string): Promise<ReplayCheck> {
  await writeDeliveries(sql, projectId, { queued: true });
  const sends = await sql<{ id: string; failed: boolean; platform: string; at: string }[]>`
    select id, failed, platform, ${sql.unsafe(ms('sent_at'))}::text as at from bench_deliveries where project_id = ${projectId} order by sent_at, id`;
  for (const d of sends) {
    const reason = d.failed ? (d.platform === 'email' ? 'mailbox_unavailable' : 'token_invalid') : null;
    await recordOutcomes(sql, [{ id: d.id, status: d.failed ? 'invalidated' : 'sent', reason, attempts: 1 }], new Date(Number(d.at)));
  }
  const reports = await sql<{ id: string; kind: EngagementKind; link: number; machine: boolean; at: string }[]>`
    select id, kind, link, machine, ${sql.unsafe(ms('at'))}::text as at from bench_events where project_id = ${projectId}
    union all
    select id, kind, link, machine, ${sql.unsafe(ms('again_at'))}::text from bench_events where project_id = ${projectId} and again_at is not null
    order by at, id, kind`;
  for (const r of reports) {
    await recordEngagements(sql, projectId, [{ deliveryId: r.id, kind: r.kind, link: r.link, machine: r.machine }], new Date(Number(r.at)));
  }
  const campaigns = await sql<{ source_id: string; t0: Date; ab: boolean }[]>`
    select source_id, t0, ab from bench_sources where project_id = ${projectId} and source_kind = 'campaign'`;
  for (const c of campaigns) {
    const skips = await sql<{ variant: number; reason: string }[]>`
      select variant, reason from bench_ledger_skips where project_id = ${projectId} and source_id = ${c.source_id}`;
    await sql`
      with stats_ledger as (
        select * from unnest(${skips.map((s) => s.variant)}::smallint[], ${skips.map(() => 'skipped')}::text[], ${skips.map((s) => s.reason)}::text[])
          as l(variant, status, reason)
      ), ${ledgerRollup(sql, { projectId, campaignId: c.source_id, variants: c.ab ? 2 : 1 }, c.t0)}
      select 1`;
  }

  // What the seed computes for the same facts, beside what Herald's statements wrote.
  await sql`create table if not exists bench_expected_hourly (like stats_hourly including defaults)`;
  await sql`create table if not exists bench_expected_skips (like stats_skips_hourly including defaults)`;
  await writeRollup(sql, projectId, { hourly: 'bench_expected_hourly', skips: 'bench_expected_skips' });
  const differ = async (a: string, b: string) => {
    const [r] = await sql.unsafe<{ n: number }[]>(`
      select count(*)::int as n from (
        (select * from ${a} where project_id = $1 except all select * from ${b} where project_id = $1)
        union all
        (select * from ${b} where project_id = $1 except all select * from ${a} where project_id = $1)) x`, [projectId]);
    return r!.n;
  };
  const [eng] = await sql<{ n: number; rows: number }[]>`
    with expected as (
      select project_id, delivery_id, kind, link, machine, count,
             date_trunc('milliseconds', first_at) as first_at, date_trunc('milliseconds', last_at) as last_at
        from (${engagementRows(sql, projectId)}) x
    ), written as (
      select project_id, delivery_id, kind, link, machine, count, first_at, last_at from engagements where project_id = ${projectId}
    )
    select (select count(*)::int from ((select * from expected except all select * from written)
                                       union all (select * from written except all select * from expected)) d) as n,
           (select count(*)::int from written) as rows`;
  const [counts] = await sql<{ hourly: number; skips: number }[]>`
    select (select count(*)::int from stats_hourly where project_id = ${projectId}) as hourly,
           (select count(*)::int from stats_skips_hourly where project_id = ${projectId}) as skips`;
  return {
    deliveries: sends.length, reports: reports.length, hourlyRows: counts!.hourly, skipRows: counts!.skips, engagementRows: eng!.rows,
    differences: {
      hourly: await differ('stats_hourly', 'bench_expected_hourly'),
      skips: await differ('stats_skips_hourly', 'bench_expected_skips'),
      engagements: eng!.n,
    },
  };
}
