/**
 * The retry decisions, as pure functions of what happened (no clock, no randomness of their own):
 * whether an attempt's failure is retried, how long to wait before the next attempt, and what a
 * Retry-After header asks for.
 */

export interface RetryOptions {
  /** Retries after the first attempt (so up to max + 1 attempts), within the call's deadline. */
  max: number;
  /** The back-off's first ceiling, doubled on each retry. */
  baseMs: number;
  /** The back-off's largest ceiling. */
  maxMs: number;
}

export const defaultRetries: RetryOptions = { max: 10, baseMs: 250, maxMs: 5_000 };

/** How one attempt ended, when it did not succeed. */
export type Failure =
  /** No answer. `sent` is false when the request certainly never reached the server (the connection was never made). */
  | { kind: 'network'; code: string; sent: boolean }
  /** The attempt's own timeout passed (the call's deadline had not). */
  | { kind: 'attempt_timeout' }
  | { kind: 'status'; status: number; code: string | undefined };

/** Error codes of a connection that was never established: the request was not sent. */
const notConnected = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export function networkFailure(code: string): Failure {
  return { kind: 'network', code, sent: !notConnected.has(code) };
}

/**
 * Whether to try again. `repeatable`: a second application of this call has no other effect than
 * the first (an idempotent method, an Idempotency-Key the route honours, client ids; see
 * safety.ts). A failure that leaves the outcome unknown (a reset connection, a timeout, a gateway's
 * 502 or 504) is retried only then; a failure that certainly applied nothing is retried always:
 * a connection never made, a 429 and a 503 (Herald answers both only when nothing was stored:
 * docs/api-errors.md). Other 4xx and 5xx answers are final: the same request would get the same.
 */
export function shouldRetry(f: Failure, repeatable: boolean): boolean {
  switch (f.kind) {
    case 'network':
      return !f.sent || repeatable;
    case 'attempt_timeout':
      return repeatable;
    case 'status':
      if (f.status === 429 || f.status === 503) return true;
      if (f.status === 502 || f.status === 504) return repeatable;
      return false;
  }
}

/**
 * Exponential back-off with full jitter: a delay drawn uniformly from [0, min(maxMs, baseMs·2^retry)),
 * so clients that failed together do not retry together
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). `retry` counts from 0;
 * `random` is in [0, 1).
 */
export function backoffMs(retry: number, o: RetryOptions, random: number): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(retry, 52));
  return Math.floor(random * ceiling);
}

/**
 * A Retry-After header's delay in ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), measured
 * from `nowMs`. Undefined when absent or unreadable; a date in the past is 0.
 */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | undefined {
  if (header === null || header === undefined) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, or the obsolete RFC 850 and asctime forms, all of
  // which Date.parse reads.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * The wait before the next attempt: the server's Retry-After when it gave one (it knows when it can
 * take the request), else the back-off.
 */
export function nextDelayMs(retry: number, o: RetryOptions, random: number, retryAfter: number | undefined): number {
  return retryAfter ?? backoffMs(retry, o, random);
}
