/**
 * What the stats answer derives from the counters (docs/analytics.md, pure): the rates and the
 * local label of a bucket. Every rate is over `sent` (what the provider accepted), on every
 * channel: email has no delivery receipt and a push's receipt comes only from an app that reports
 * it, so `delivered` would make rates of one channel incomparable with another's and a project's
 * total meaningless. A rate is null when nothing was sent.
 */
import { formatDate, formatTime, wallClock } from './campaigns/local-time.js';

export interface RateInputs {
  sent: number;
  delivered: number;
  opens_unique: number;
  clicks_unique: number;
}

export interface Rates {
  /** delivered / sent: meaningful for SMS (carrier receipts) and pushes whose app reports receipts. */
  delivery_rate: number | null;
  open_rate: number | null;
  click_rate: number | null;
  /** clicks_unique / opens_unique: of the people who opened, how many clicked. */
  click_to_open_rate: number | null;
}

const ratio = (n: number, d: number): number | null => (d > 0 ? Math.round((n / d) * 1e6) / 1e6 : null);

export function ratesOf(c: RateInputs): Rates {
  return {
    delivery_rate: ratio(c.delivered, c.sent),
    open_rate: ratio(c.opens_unique, c.sent),
    click_rate: ratio(c.clicks_unique, c.sent),
    click_to_open_rate: ratio(c.clicks_unique, c.opens_unique),
  };
}

/** A bucket's start as the zone's wall clock: "2026-12-03" for a day, "2026-12-03T14:00" for an hour. */
export function bucketLabel(zone: string, start: number, granularity: 'hour' | 'day'): string {
  const w = wallClock(zone, start);
  return granularity === 'day' ? formatDate(w) : `${formatDate(w)}T${formatTime(w)}`;
}
