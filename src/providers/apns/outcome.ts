/**
 * APNs answers → Herald's DeliveryOutcome. Every status and reason of Apple's table
 * (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns) maps to exactly one action; outcome.test.ts checks each.
 * Pure: no I/O.
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';

/** The token is dead: Apple says "don't retry" and the token should be deleted. */
const tokenDead = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'Unregistered', 'ExpiredToken']);

/** Our provider token or key is wrong: every push on this account fails until an operator acts. */
const credentialsBroken = new Set([
  'BadCertificate', 'BadCertificateEnvironment', 'InvalidProviderToken', 'MissingProviderToken',
  'BadEnvironmentKeyIdInToken', 'ExpiredProviderToken',
]);

/** Transient conditions that a later attempt (on a fresh connection, with a delay) gets past. */
const transient = new Set(['IdleTimeout', 'UnrelatedKeyIdInToken', 'TooManyRequests', 'TooManyProviderTokenUpdates']);

/** Reasons after which the connection that carried the request should not carry more. */
export const reasonsThatRetireTheConnection = new Set(['IdleTimeout', 'UnrelatedKeyIdInToken', 'Shutdown', 'ServiceUnavailable']);

export function apnsOutcome(status: number, reason: string | undefined, retryAfterMs?: number): DeliveryOutcome {
  if (status === 200) return { kind: 'delivered' };
  const why = reason ?? `HTTP ${status}`;
  if (reason && tokenDead.has(reason)) return { kind: 'token_invalid', reason, status };
  if (status === 410) return { kind: 'token_invalid', reason: why, status };
  if (reason && credentialsBroken.has(reason)) return { kind: 'credentials_invalid', reason, status };
  if (reason && transient.has(reason)) return { kind: 'retry', reason, status, retryAfterMs };
  if (status === 429) return { kind: 'retry', reason: why, status, retryAfterMs };
  if (status >= 500) return { kind: 'provider_down', reason: why, status, retryAfterMs };
  // Everything else is a request APNs will refuse however often it is sent: BadCollapseId,
  // BadExpirationDate, BadMessageId, BadPriority, BadTopic, DuplicateHeaders, InvalidPushType,
  // MissingDeviceToken, MissingTopic, PayloadEmpty, TopicDisallowed, Forbidden, BadPath,
  // MethodNotAllowed, PayloadTooLarge, and any 4xx Apple adds later.
  return { kind: 'rejected', reason: why, status };
}

/** Retry-After is seconds (RFC 9110 §10.2.3) or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
