/**
 * The analytics counters (docs/analytics.md) as Prometheus counters, read from the same rollups
 * the stats routes read, never counted apart: a number on a Grafana board and the one in
 * GET /v1/stats come from one record, so they cannot disagree after a crash.
 *
 * They are the whole deployment's totals (every project), the same in every process that serves
 * /metrics: aggregate them across instances with max, not sum. A project's deletion (its rows go
 * with it) lowers a total, which Prometheus reads as a counter reset.
 *
 * A rollup row is written in the hour its fact is recorded (store/stats-rollup.ts), so hours that
 * have passed no longer change: the hours before `settledBefore` are summed once and kept, and a
 * scrape reads only the hours since, one index range per project (store/stats.ts#totals). Hours
 * settle two hours late, so a process whose clock is behind by less than that still lands in a
 * range that is read again.
 */
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../domain/clock.js';
import { statsMetrics, type StatsMetric } from '../store/stats-rollup.js';
import type { StatsStore, StatsTotal } from '../store/stats.js';

const hourMs = 3_600_000;
const settleMs = 2 * hourMs;
/** prom-client collects every metric of a scrape concurrently: they share one read, reused this long. */
const reuseMs = 5_000;

type Key = string;
type Totals = Map<Key, StatsTotal>;

const help: Record<StatsMetric, string> = {
  sent: 'Deliveries a provider accepted',
  delivered: 'Receipts: SMS delivered callbacks and SDK push receipts',
  failed: 'Deliveries that failed, expired or were invalidated, and campaign recipients whose content failed to render',
  skipped: 'Targets skipped before sending (suppressed, opted out, capped, control group, late zone...)',
  bounces: 'Hard email bounces, once per delivery',
  complaints: 'Spam complaints (ARF), once per delivery',
  unsubscribes: 'Addresses unsubscribed by a one-click link and numbers opted out by STOP',
  opens_unique: 'Deliveries opened by a person, once each',
  opens_total: 'Opens by a person, every pixel load',
  opens_machine: 'Email opens made by a proxy (Apple Mail Privacy Protection), counted apart',
  opens_influenced: 'App opens within the influence window after a push was received',
  clicks_unique: 'Deliveries with at least one tracked click',
  clicks_total: 'Tracked clicks',
};

function add(into: Totals, rows: readonly StatsTotal[]): void {
  for (const r of rows) {
    const key = `${r.sourceKind}\0${r.channel}`;
    let t = into.get(key);
    if (!t) {
      t = { sourceKind: r.sourceKind, channel: r.channel, counters: Object.fromEntries(statsMetrics.map((m) => [m, 0])) as StatsTotal['counters'], skippedByReason: {} };
      into.set(key, t);
    }
    for (const m of statsMetrics) t.counters[m] += r.counters[m];
    for (const [reason, n] of Object.entries(r.skippedByReason)) t.skippedByReason[reason] = (t.skippedByReason[reason] ?? 0) + n;
  }
}

/** The totals now: the settled hours kept, plus a fresh read of the hours since. */
export function analyticsTotals(stats: StatsStore, clock: Clock): () => Promise<Totals> {
  let settled: { before: number; totals: Totals } | undefined;
  const settle = async (): Promise<{ before: number; totals: Totals }> => {
    const before = Math.floor((clock.now() - settleMs) / hourMs) * hourMs;
    if (!settled) {
      const totals: Totals = new Map();
      add(totals, await stats.totals({ to: new Date(before) }));
      settled = { before, totals };
    } else if (before > settled.before) {
      const totals: Totals = new Map();
      add(totals, [...settled.totals.values()]);
      add(totals, await stats.totals({ from: new Date(settled.before), to: new Date(before) }));
      settled = { before, totals };
    }
    return settled;
  };
  let last: { at: number; totals: Promise<Totals> } | undefined;
  return () => {
    if (!last || clock.now() - last.at > reuseMs) {
      const read = (async () => {
        const s = await settle();
        const totals: Totals = new Map();
        add(totals, [...s.totals.values()]);
        add(totals, await stats.totals({ from: new Date(s.before) }));
        return totals;
      })();
      last = { at: clock.now(), totals: read };
      // A failed read (PostgreSQL away) is not kept: the next scrape tries again.
      read.catch(() => { if (last?.totals === read) last = undefined; });
    }
    return last.totals;
  };
}

/**
 * `herald_analytics_<metric>_total{source, channel}` for each counter, and
 * `herald_analytics_skipped_by_reason_total{source, channel, reason}`. While PostgreSQL does not
 * answer, the scrape leaves them out rather than report zeros.
 */
export function registerAnalyticsMetrics(registry: Registry, read: () => Promise<Totals>): void {
  const set = async (c: Counter, pick: (t: StatsTotal) => [Record<string, string>, number][]) => {
    c.reset();
    const totals = await read().catch(() => undefined);
    for (const t of totals?.values() ?? []) for (const [labels, n] of pick(t)) c.inc(labels, n);
  };
  const labelsOf = (t: StatsTotal) => ({ source: t.sourceKind, channel: t.channel });
  for (const m of statsMetrics) {
    new Counter({
      name: `herald_analytics_${m}_total`,
      help: `${help[m]} (every project, from the analytics rollups; the same in every process)`,
      labelNames: ['source', 'channel'],
      registers: [registry],
      async collect() { await set(this, (t) => [[labelsOf(t), t.counters[m]]]); },
    });
  }
  new Counter({
    name: 'herald_analytics_skipped_by_reason_total',
    help: 'Skipped targets by the class of their reason (every project, from the analytics rollups)',
    labelNames: ['source', 'channel', 'reason'],
    registers: [registry],
    async collect() {
      await set(this, (t) => Object.entries(t.skippedByReason).map(([reason, n]) => [{ ...labelsOf(t), reason }, n]));
    },
  });
}
