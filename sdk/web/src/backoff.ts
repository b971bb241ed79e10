/**
 * "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform wait between 0
 * and min(cap, base·2^attempt). Thousands of browsers coming back online at once then spread their
 * retries instead of hitting Herald together.
 */
export function fullJitterMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
