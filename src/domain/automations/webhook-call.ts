/**
 * What one try of a webhook step's call leads to (docs/automations.md, "The webhook step"): a 2xx
 * delivers; a 5xx, a 429 or no answer at all (a reset, a timeout) is tried again after a back-off
 * (Retry-After honoured, RFC 9110 §10.2.3) until the step's tries are spent; anything else (a 3xx,
 * a 4xx, an address the outbound guard refuses) will not change by trying again and fails at once.
 */
import { honoursRetryAfter, isSuccess, nextAttemptDelayMs, parseRetryAfter } from '../webhooks/schedule.js';
import { webhookRetrySchedule } from './definition.js';

export interface TryAnswer {
  status?: number | undefined;
  retryAfter?: string | undefined;
  error?: string | undefined;
  /** Herald refused the address before sending anything. */
  forbidden?: boolean | undefined;
}

export type TryDecision =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; delayMs: number; status?: number | undefined; error: string }
  | { kind: 'failed'; reason: string; status?: number | undefined; error: string };

export function decideTry(a: TryAnswer, o: { tries: number; maxTries: number; now: number; random: number }): TryDecision {
  if (isSuccess(a.status)) return { kind: 'delivered', status: a.status! };
  const error = a.error ?? `HTTP ${a.status}`;
  if (a.forbidden) return { kind: 'failed', reason: 'forbidden_address', error };
  const retryable = a.status === undefined || a.status === 429 || a.status >= 500;
  const reason = a.status === undefined ? 'network' : `http_${a.status}`;
  if (!retryable) return { kind: 'failed', reason, status: a.status, error };
  const retryAfterMs = a.status !== undefined && honoursRetryAfter(a.status) ? parseRetryAfter(a.retryAfter, o.now) : undefined;
  const delayMs = o.tries < o.maxTries ? nextAttemptDelayMs(o.tries, { retryAfterMs, random: o.random, schedule: webhookRetrySchedule }) : undefined;
  if (delayMs === undefined) return { kind: 'failed', reason, status: a.status, error };
  return { kind: 'retry', delayMs, status: a.status, error };
}
