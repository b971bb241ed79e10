/**
 * What one provider attempt came to, as data. Every provider adapter resolves each send to exactly
 * one of these; the worker switches on `kind` exhaustively (see assertNever), so a new variant
 * fails to compile until every consumer handles it. Exceptions are for bugs, not for provider errors.
 */
export type DeliveryOutcome =
  /** The provider accepted the message. */
  | { kind: 'delivered'; providerId?: string | undefined }
  /** Transient: try again no sooner than `retryAfterMs` (from Retry-After) or per backoff. */
  | { kind: 'retry'; reason: string; status?: number | undefined; retryAfterMs?: number | undefined }
  /** The token or address is dead; never send to it again (APNs 410, 400 BadDeviceToken). */
  | { kind: 'token_invalid'; reason: string; status?: number | undefined; local?: Local }
  /** The provider refused this message for good (too large, bad topic...); retrying cannot help. */
  | { kind: 'rejected'; reason: string; status?: number | undefined; local?: Local }
  /** Our credentials are wrong; every send on this account will fail until an operator fixes them. */
  | { kind: 'credentials_invalid'; reason: string; status?: number | undefined; local?: Local }
  /** The provider is down or unreachable (5xx, connection refused, GOAWAY). */
  | { kind: 'provider_down'; reason: string; status?: number | undefined; retryAfterMs?: number | undefined };

/**
 * `local: true`: decided here, with nothing sent to the provider (a check before the request, or a
 * request Node would not send). It says nothing about the provider's health, so circuit breakers
 * leave it out (domain/circuit-breaker.ts breakerVerdict).
 */
type Local = true | undefined;

export type OutcomeKind = DeliveryOutcome['kind'];

/** Compile-time exhaustiveness: reaching this is a type error when a case is missing. */
export function assertNever(x: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`);
}
