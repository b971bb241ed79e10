/**
 * Circuit breakers per provider account: when a provider is down, its messages wait in the queue
 * instead of spending their attempts (and the provider's patience) on calls that cannot succeed.
 *
 * closed → `failureThreshold` consecutive provider_down outcomes → open for `openMs`;
 * open → after `openMs`, one probe call is let through (half-open);
 * the probe succeeds → closed; it fails → open again for twice as long, up to `maxOpenMs`.
 * Any answer that shows the provider is up (delivered, rejected, token_invalid...) closes it.
 * An outcome the provider had no part in (a local refusal, a sender that threw) neither opens nor
 * closes it: one tenant's malformed request must not park every other tenant's sends.
 *
 * Plain data and a clock passed in: no timers, no I/O.
 */
import type { DeliveryOutcome, OutcomeKind } from './outcome.js';

export interface BreakerPolicy {
  failureThreshold: number;
  openMs: number;
  maxOpenMs: number;
}

/** Five failures in a row is not one flaky request; 30 s is long enough to stop hammering. */
export const defaultBreakerPolicy: BreakerPolicy = { failureThreshold: 5, openMs: 30_000, maxOpenMs: 300_000 };

export type Admission = { kind: 'send' } | { kind: 'park'; forMs: number };

interface State {
  failures: number;
  /** While open: when the next probe may go. */
  openUntil: number;
  /** The current open period, doubled after each failed probe. */
  openMs: number;
  probing: boolean;
}

export interface CircuitBreakers {
  /** May a call to this account go now? Lets exactly one probe through when an open period ends. */
  admit(key: string, now: number): Admission;
  /** A call's outcome. `undefined` (the call never happened) releases a probe without judging. */
  record(key: string, outcome: OutcomeKind | undefined, now: number): void;
  /** Accounts currently open, for metrics. */
  openCount(now: number): number;
}

/** What a call tells its account's breaker: nothing when it threw or never reached the provider. */
export function breakerVerdict(o: DeliveryOutcome | undefined): OutcomeKind | undefined {
  if (!o || ('local' in o && o.local)) return undefined;
  return o.kind;
}

export function createCircuitBreakers(policy: BreakerPolicy = defaultBreakerPolicy): CircuitBreakers {
  const states = new Map<string, State>();
  return {
    admit(key, now) {
      const s = states.get(key);
      if (!s || s.openUntil === 0) return { kind: 'send' };
      if (now < s.openUntil || s.probing) return { kind: 'park', forMs: Math.max(1_000, s.openUntil - now) };
      s.probing = true;
      return { kind: 'send' };
    },
    record(key, outcome, now) {
      let s = states.get(key);
      if (outcome === undefined) {
        if (s) s.probing = false;
        return;
      }
      if (outcome !== 'provider_down') {
        states.delete(key);
        return;
      }
      if (!s) states.set(key, (s = { failures: 0, openUntil: 0, openMs: policy.openMs, probing: false }));
      if (s.probing || s.openUntil !== 0) {
        // A failed probe, or a call admitted before the breaker opened: open (again), longer.
        if (s.probing) s.openMs = Math.min(policy.maxOpenMs, s.openMs * 2);
        s.probing = false;
        s.openUntil = now + s.openMs;
        return;
      }
      if (++s.failures >= policy.failureThreshold) s.openUntil = now + s.openMs;
    },
    openCount(now) {
      let n = 0;
      for (const s of states.values()) if (s.openUntil > now) n++;
      return n;
    },
  };
}
