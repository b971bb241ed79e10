/**
 * When a webhook that failed is tried again. The schedule is Svix's (https://docs.svix.com/retries):
 * at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after each failure, about 27.5 hours
 * in all; each delay is spread by ±10 % of jitter so that an endpoint that comes back is not hit
 * by every retry at the same instant. A 429 or 503 with Retry-After (RFC 9110 §10.2.3) is not
 * tried again before the time it asks for.
 */

export const defaultRetrySchedule: readonly number[] = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];

/** The longest Retry-After honoured: a longer one is read as this (the schedule spans a day). */
const maxRetryAfterMs = 36_000_000;

/**
 * The delay before the next attempt after `failedAttempts` attempts failed (1 after the first),
 * or undefined when the schedule is spent and the delivery fails. `random` is in [0, 1).
 */
export function nextAttemptDelayMs(
  failedAttempts: number,
  o: { retryAfterMs?: number | undefined; random: number; schedule?: readonly number[] | undefined },
): number | undefined {
  const schedule = o.schedule ?? defaultRetrySchedule;
  const base = schedule[failedAttempts - 1];
  if (base === undefined) return undefined;
  const jittered = Math.round(base * (0.9 + 0.2 * o.random));
  const asked = o.retryAfterMs === undefined ? 0 : Math.min(o.retryAfterMs, maxRetryAfterMs);
  return Math.max(jittered, asked);
}

/**
 * A Retry-After header in milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110
 * §10.2.3); undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whether an answer says when to come back: only 429 and 503 carry a Retry-After worth following. */
export const honoursRetryAfter = (status: number): boolean => status === 429 || status === 503;

/** A 2xx is a success (Standard Webhooks, "Delivery"); anything else, or no answer, is a failure. */
export const isSuccess = (status: number | undefined): boolean => status !== undefined && status >= 200 && status < 300;

/** After failing continuously this long an endpoint is disabled; what it missed can be replayed. */
export const defaultDisableAfterMs = 5 * 24 * 3_600_000;

/** Whether an endpoint failing since `failingSince` is disabled now. */
export const shouldDisable = (failingSince: number | null, now: number, disableAfterMs = defaultDisableAfterMs): boolean =>
  failingSince !== null && now - failingSince >= disableAfterMs;
