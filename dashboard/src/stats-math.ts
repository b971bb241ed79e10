/**
 * What the analytics screens derive from a stats answer (GET /v1/stats/..., docs/analytics.md):
 * the range a choice asks for, one channel's sums, and the series a chart draws with its empty
 * buckets filled. Pure: no fetch, no DOM.
 */
import type { paths } from './api/openapi.js';

export type Stats = paths['/v1/stats/project']['get']['responses'][200]['content']['application/json'];
export type Metrics = Stats['totals'];
export type Bucket = Stats['buckets'][number];
export type Granularity = Stats['granularity'];
export type RangeChoice = '24h' | '7d' | '30d' | 'custom';
/** The counters a chart or a table column can show (every metric but the rates and the reasons). */
export type Counter = { [K in keyof Metrics]: Metrics[K] extends number ? K : never }[keyof Metrics];

const hourMs = 3600_000;
const dayMs = 24 * hourMs;
const rollingDays = { '24h': 1, '7d': 7, '30d': 30 } as const;

/** A rolling range up to the end of the current hour (the API's own default `to`), as [from, to). */
export function rangeOf(choice: keyof typeof rollingDays, now: number): { from: string; to: string } {
  const to = Math.floor(now / hourMs) * hourMs + hourMs;
  return { from: new Date(to - rollingDays[choice] * dayMs).toISOString(), to: new Date(to).toISOString() };
}

const isRate = (key: string) => key.endsWith('_rate');
const ratio = (n: number, d: number): number | null => (d > 0 ? Math.round((n / d) * 1e6) / 1e6 : null);

/**
 * The sum of some buckets (one channel's, one slot's), with their rates recomputed as the API
 * computes them (src/domain/stats.ts: over `sent`, null when nothing was sent). `shape` is any
 * answer's totals: it names the counters, so a metric the API adds is summed without a change here.
 */
export function sumOf(shape: Metrics, parts: readonly Metrics[]): Metrics {
  const out: Record<string, number> = {};
  for (const key of Object.keys(shape)) if (typeof shape[key as keyof Metrics] === 'number' && !isRate(key)) out[key] = 0;
  const skipped: Record<string, number> = {};
  for (const p of parts) {
    for (const key of Object.keys(out)) out[key]! += (p[key as keyof Metrics] as number | undefined) ?? 0;
    for (const [reason, n] of Object.entries(p.skipped_by_reason)) skipped[reason] = (skipped[reason] ?? 0) + n;
  }
  const c = out as Record<Counter, number>;
  return {
    ...c, skipped_by_reason: skipped,
    delivery_rate: ratio(c.delivered, c.sent), open_rate: ratio(c.opens_unique, c.sent),
    click_rate: ratio(c.clicks_unique, c.sent), click_to_open_rate: ratio(c.clicks_unique, c.opens_unique),
  };
}

/** The figures of one channel ('*': every channel, which is the answer's own totals). */
export function channelTotals(stats: Stats, channel: string): Metrics {
  return channel === '*' ? stats.totals : sumOf(stats.totals, stats.buckets.filter((b) => b.channel === channel));
}

/** The channels an answer has figures for, in a stable order ('' is a campaign's recipient skipped before any channel was chosen). */
export const channelsOf = (stats: Stats): string[] => [...new Set(stats.buckets.map((b) => b.channel))].sort();

/** The wall clock of `zone` at an instant: its date and its HH:MM. */
export function wallClock(zone: string): (ms: number) => { day: string; time: string } {
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  return (ms) => {
    const p = Object.fromEntries(format.formatToParts(ms).map((x) => [x.type, x.value]));
    return { day: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
  };
}

export interface Slot {
  /** The bucket's `local` label (the zone's wall clock: YYYY-MM-DD, or YYYY-MM-DDTHH:MM). */
  local: string;
  figures: Metrics;
  /** Whether the API answered any row for it (a slot without one is all zeros). */
  recorded: boolean;
}

/**
 * Every hour or day of [from, to) in the answer's zone, in order, each with the sum of its buckets
 * of `channel` ('*': all): the empty ones too, so that a chart's gaps are zeros rather than
 * missing. Days are the zone's dates of the range's hours, as the API cuts them (an hour that
 * straddles midnight in a half-hour zone belongs to the day it starts in).
 */
export function slotsOf(stats: Stats, channel: string): Slot[] {
  const clock = wallClock(stats.time_zone);
  const labels: string[] = [];
  const from = Date.parse(stats.from);
  const to = Date.parse(stats.to);
  for (let t = Math.floor(from / hourMs) * hourMs; t < to; t += hourMs) {
    const w = clock(t);
    const label = stats.granularity === 'day' ? w.day : `${w.day}T${w.time}`;
    if (labels[labels.length - 1] !== label) labels.push(label);
  }
  const byLabel = new Map<string, Bucket[]>();
  for (const b of stats.buckets) {
    if (channel !== '*' && b.channel !== channel) continue;
    byLabel.set(b.local, [...(byLabel.get(b.local) ?? []), b]);
  }
  // A label the walk did not make (a range that is not whole hours): kept, in the answer's order.
  for (const label of byLabel.keys()) if (!labels.includes(label)) labels.push(label);
  return labels.map((local) => ({ local, figures: sumOf(stats.totals, byLabel.get(local) ?? []), recorded: byLabel.has(local) }));
}

/** A rate as a percentage with one decimal; a dash when nothing was sent. */
export const percent = (r: number | null): string => (r === null ? '—' : `${(r * 100).toFixed(1)} %`);
