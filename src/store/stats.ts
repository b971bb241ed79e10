/**
 * Reading the rollups (migration 0025, docs/analytics.md) behind one small interface, so that a
 * column store could answer the same questions from the same facts without the routes changing.
 * Every read is scoped to its project, and reads the hourly rows alone: a range costs its hours,
 * whatever the number of deliveries behind them.
 */
import type { Sql } from 'postgres';
import { statsMetrics, type StatsMetric } from './stats-rollup.js';

export type StatsSource = { kind: 'campaign' | 'transactional' | 'automation'; id: string };

export interface StatsQuery {
  projectId: string;
  /** Absent: the whole project. */
  source?: StatsSource | undefined;
  /** [from, to): whole hours are counted whose start falls in it. */
  from: Date;
  to: Date;
  granularity: 'hour' | 'day';
  /** The IANA zone days are cut in (hours are the same in every whole-hour zone). */
  timeZone: string;
}

export type StatsCounters = Record<StatsMetric, number>;

export interface StatsBucket {
  /** The bucket's start, an instant. */
  start: Date;
  variant: string;
  channel: string;
  counters: StatsCounters;
  skippedByReason: Record<string, number>;
}

export interface StatsStore {
  buckets(q: StatsQuery): Promise<StatsBucket[]>;
}

const zero = (): StatsCounters => Object.fromEntries(statsMetrics.map((m) => [m, 0])) as StatsCounters;

export function postgresStats(sql: Sql): StatsStore {
  return {
    async buckets(q) {
      // A day starts at the local midnight of the zone: the hour's start moved to local time, cut
      // to the day and turned back into an instant (PostgreSQL's AT TIME ZONE both ways).
      const bucket = q.granularity === 'hour'
        ? sql`s.hour`
        : sql`(date_trunc('day', s.hour at time zone ${q.timeZone}) at time zone ${q.timeZone})`;
      const where = sql`s.project_id = ${q.projectId} and s.hour >= ${q.from} and s.hour < ${q.to}
        ${q.source ? sql`and s.source_kind = ${q.source.kind} and s.source_id = ${q.source.id}` : sql``}`;
      const [counts, skips] = await Promise.all([
        sql<({ start: Date; variant: string; channel: string } & Record<StatsMetric, string>)[]>`
          select ${bucket} as start, s.variant, s.channel,
                 ${sql.unsafe(statsMetrics.map((m) => `sum(s.${m})::text as ${m}`).join(', '))}
            from stats_hourly s where ${where}
           group by 1, 2, 3 order by 1, 2, 3`,
        sql<{ start: Date; variant: string; channel: string; reason: string; skipped: string }[]>`
          select ${bucket} as start, s.variant, s.channel, s.reason, sum(s.skipped)::text as skipped
            from stats_skips_hourly s where ${where}
           group by 1, 2, 3, 4`,
      ]);
      const out = new Map<string, StatsBucket>();
      const keyOf = (r: { start: Date; variant: string; channel: string }) => `${r.start.toISOString()}\0${r.variant}\0${r.channel}`;
      for (const r of counts) {
        const counters = zero();
        for (const m of statsMetrics) counters[m] = Number(r[m]);
        out.set(keyOf(r), { start: r.start, variant: r.variant, channel: r.channel, counters, skippedByReason: {} });
      }
      for (const s of skips) {
        const b = out.get(keyOf(s));
        if (b) b.skippedByReason[s.reason] = Number(s.skipped);
      }
      return [...out.values()];
    },
  };
}
