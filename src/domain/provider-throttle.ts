/**
 * Client-side throttling per provider account. FCM first (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas): it
 * meters each project with a token bucket of 600,000 messages a minute, and its scale guidance asks
 * senders to throttle themselves when they see 429s; SMTP relays and Twilio meter accounts the same
 * way. So every send first takes a token from the account's bucket here, and a 429 slows the whole
 * account, not just the message it refused: nothing is sent for the Retry-After pause, then the rate
 * restarts at half and climbs back (additive increase, multiplicative decrease, as TCP does).
 *
 * The account's rate holds across processes: each worker process passes the share of the account
 * it may use (worker/process-share.ts: 1 / the live worker processes), and its bucket fills at that
 * share of the rate. Figures the throttle reports (rateAt) stay the account's.
 *
 * Pure: time is passed in, nothing sleeps here; the client does the waiting.
 */

/** FCM's default project quota (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas). */
export const defaultMessagesPerMinute = 600_000;
/** After a slowdown, the rate climbs back by this share of the configured rate each minute. */
export const recoveryPerMinute = 0.1;
/** However many 429s, the rate never drops below this share of the configured one. */
export const minRateShare = 0.01;

export interface ThrottleOptions {
  messagesPerMinute: number;
  /** Messages that may go at once after a quiet spell; one second's worth by default. */
  burst?: number | undefined;
  /** A send that would wait longer than this is handed back to the queue instead of holding its worker. */
  maxWaitMs: number;
  /** The share of the account's rate this process may use, in (0, 1]; all of it by default. */
  share?: (() => number) | undefined;
}

export type Admission =
  /** Send after `waitMs` (0: at once); the slot is reserved. */
  | { kind: 'go'; waitMs: number }
  /** Do not send now; try again after `retryAfterMs`. `paused`: a 429 stopped the project. */
  | { kind: 'hold'; retryAfterMs: number; paused: boolean };

export interface ProjectThrottle {
  admit(now: number): Admission;
  /**
   * FCM answered 429 for this project: pause for `pauseMs`, then go on at a lower rate. True when
   * this began a slowdown, false when it only lengthened the pause of one under way.
   */
  slowDown(now: number, pauseMs: number): boolean;
  /** Messages per minute allowed at `now` (after any slowdown's recovery so far). */
  rateAt(now: number): number;
}

export function createProjectThrottle(o: ThrottleOptions): ProjectThrottle {
  const full = o.messagesPerMinute;
  const burstShare = o.burst === undefined ? 1 / 60 : o.burst / full;
  let tokens = Math.max(1, full * burstShare);
  let updatedAt = -Infinity;
  let pausedUntil = -Infinity;
  /** Rate right after the last slowdown's pause, and when its recovery began. */
  let reducedRate = full;
  let recoveringFrom = -Infinity;

  const rateAt = (now: number): number =>
    Math.min(full, reducedRate + full * recoveryPerMinute * Math.max(0, now - recoveringFrom) / 60_000);

  return {
    rateAt,
    admit(now) {
      if (now < pausedUntil) return { kind: 'hold', retryAfterMs: pausedUntil - now, paused: true };
      const rate = rateAt(now) * (o.share?.() ?? 1);
      const capacity = Math.max(1, rate * burstShare);
      const perMs = rate / 60_000;
      if (now > updatedAt) {
        tokens = updatedAt === -Infinity ? capacity : Math.min(capacity, tokens + (now - updatedAt) * perMs);
        updatedAt = now;
      }
      // Tokens may go below zero: each send reserves the next free slot, so waiters keep their order.
      const waitMs = tokens >= 1 ? 0 : Math.ceil((1 - tokens) / perMs);
      if (waitMs > o.maxWaitMs) return { kind: 'hold', retryAfterMs: waitMs, paused: false };
      tokens -= 1;
      return { kind: 'go', waitMs };
    },
    slowDown(now, pauseMs) {
      if (now < pausedUntil) {
        // The same overload seen by other sends in flight: one slowdown, the longest pause asked.
        pausedUntil = Math.max(pausedUntil, now + pauseMs);
        recoveringFrom = pausedUntil;
        updatedAt = pausedUntil;
        return false;
      }
      reducedRate = Math.max(full * minRateShare, rateAt(now) / 2);
      pausedUntil = now + pauseMs;
      recoveringFrom = pausedUntil;
      // The bucket restarts empty when the pause ends: no burst into a service that just said "too much".
      tokens = 0;
      updatedAt = pausedUntil;
      return true;
    },
  };
}
