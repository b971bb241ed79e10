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

/** Every project's counters of one source kind and channel, summed (the Prometheus counters). */
export interface StatsTotal {
  sourceKind: StatsSource['kind'];
  channel: string;
  counters: StatsCounters;
  /** Skips by the class of their reason: the text before a `:` ("capped: rule" counts as "capped"). */
  skippedByReason: Record<string, number>;
}

export interface StatsStore {
  buckets(q: StatsQuery): Promise<StatsBucket[]>;
  /** All projects' hours whose start is in [from, to), either end open when absent. */
  totals(range: { from?: Date; to?: Date }): Promise<StatsTotal[]>;
}

/**
 * Each counter summed as float8: exact for integers up to 2^53 (a range's sum of one counter stays
 * far below), and accumulated in a machine double where sum(bigint) accumulates a numeric and is
 * then turned into text to be parsed again: over a project's 90 days (tens of thousands of hourly
 * rows, thirteen counters each) that is most of the statement's time (bench/stats.ts,
 * docs/performance.md). postgres.js hands float8 back as a number.
 */
const sums = statsMetrics.map((m) => `sum(s.${m}::float8) as ${m}`).join(', ');

/** A row's counters in a fresh object of one shape, in statsMetrics' order. */
function countersOf(r: Record<StatsMetric, number>): StatsCounters {
  const c = {} as StatsCounters;
  for (const m of statsMetrics) c[m] = r[m];
  return c;
}

function zeroCounters(): StatsCounters {
  const c = {} as StatsCounters;
  for (const m of statsMetrics) c[m] = 0;
  return c;
}

export function postgresStats(sql: Sql): StatsStore {
  return {
    async buckets(q) {
      // A day starts at the local midnight of the zone: date_trunc's zone form cuts the instant to
      // the day on that zone's wall clock and answers the instant it began
      // (https://www.postgresql.org/docs/current/functions-datetime.html#FUNCTIONS-DATETIME-TRUNC).
      // It answers what AT TIME ZONE both ways did, in one step: that conversion, twice per hourly
      // row, was a large part of the statement's time over a project's 90 days (docs/performance.md).
      const bucket = q.granularity === 'hour' ? sql`s.hour` : sql`date_trunc('day', s.hour, ${q.timeZone})`;
      const where = sql`s.project_id = ${q.projectId} and s.hour >= ${q.from} and s.hour < ${q.to}
        ${q.source ? sql`and s.source_kind = ${q.source.kind} and s.source_id = ${q.source.id}` : sql``}`;
      const [counts, skips] = await Promise.all([
        sql<({ start: Date; variant: string; channel: string } & Record<StatsMetric, number>)[]>`
          select ${bucket} as start, s.variant, s.channel, ${sql.unsafe(sums)}
            from stats_hourly s where ${where}
           group by 1, 2, 3 order by 1, 2, 3`,
        sql<{ start: Date; variant: string; channel: string; reason: string; skipped: number }[]>`
          select ${bucket} as start, s.variant, s.channel, s.reason, sum(s.skipped::float8) as skipped
            from stats_skips_hourly s where ${where}
           group by 1, 2, 3, 4`,
      ]);
      const out = new Map<string, StatsBucket>();
      const keyOf = (r: { start: Date; variant: string; channel: string }) => `${r.start.getTime()}\0${r.variant}\0${r.channel}`;
      for (const r of counts) {
        out.set(keyOf(r), { start: r.start, variant: r.variant, channel: r.channel, counters: countersOf(r), skippedByReason: {} });
      }
      for (const s of skips) {
        const b = out.get(keyOf(s));
        if (b) b.skippedByReason[s.reason] = s.skipped;
      }
      return [...out.values()];
    },

    async totals({ from, to }) {
      // Per project through the (project_id, hour) index, so a recent range reads its recent rows
      // only: a scrape reads the last hours, not the whole history (observability/analytics-metrics.ts).
      const range = (t: string) => sql`${from ? sql`and ${sql.unsafe(t)}.hour >= ${from}` : sql``} ${to ? sql`and ${sql.unsafe(t)}.hour < ${to}` : sql``}`;
      const [counts, skips] = await Promise.all([
        sql<({ source_kind: StatsSource['kind']; channel: string } & Record<StatsMetric, number>)[]>`
          select s.source_kind, s.channel, ${sql.unsafe(sums)}
            from projects p cross join lateral (
              select * from stats_hourly h where h.project_id = p.id ${range('h')}) s
           group by 1, 2`,
        sql<{ source_kind: StatsSource['kind']; channel: string; reason: string; skipped: number }[]>`
          select s.source_kind, s.channel, split_part(s.reason, ':', 1) as reason, sum(s.skipped::float8) as skipped
            from projects p cross join lateral (
              select * from stats_skips_hourly k where k.project_id = p.id ${range('k')}) s
           group by 1, 2, 3`,
      ]);
      const out = new Map<string, StatsTotal>();
      for (const r of counts) out.set(`${r.source_kind}\0${r.channel}`, { sourceKind: r.source_kind, channel: r.channel, counters: countersOf(r), skippedByReason: {} });
      for (const k of skips) {
        const key = `${k.source_kind}\0${k.channel}`;
        // A range can hold a skip row without its counters' row (their hours differ by a range's edge).
        const t = out.get(key) ?? { sourceKind: k.source_kind, channel: k.channel, counters: zeroCounters(), skippedByReason: {} };
        out.set(key, t);
        t.skippedByReason[k.reason] = (t.skippedByReason[k.reason] ?? 0) + k.skipped;
      }
      return [...out.values()];
    },
  };
}
