import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apnsOutcome, parseRetryAfter } from './outcome.js';
import type { OutcomeKind } from '../../domain/outcome.js';

// Apple's table, https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns: every status and reason with the action it calls for.
const table: [number, string, OutcomeKind][] = [
  [400, 'BadCollapseId', 'rejected'],
  [400, 'BadDeviceToken', 'token_invalid'],
  [400, 'BadExpirationDate', 'rejected'],
  [400, 'BadMessageId', 'rejected'],
  [400, 'BadPriority', 'rejected'],
  [400, 'BadTopic', 'rejected'],
  [400, 'DeviceTokenNotForTopic', 'token_invalid'],
  [400, 'DuplicateHeaders', 'rejected'],
  [400, 'IdleTimeout', 'retry'],
  [400, 'InvalidPushType', 'rejected'],
  [400, 'MissingDeviceToken', 'rejected'],
  [400, 'MissingTopic', 'rejected'],
  [400, 'PayloadEmpty', 'rejected'],
  [400, 'TopicDisallowed', 'rejected'],
  [403, 'BadCertificate', 'credentials_invalid'],
  [403, 'BadCertificateEnvironment', 'credentials_invalid'],
  [403, 'ExpiredProviderToken', 'credentials_invalid'],
  [403, 'Forbidden', 'rejected'],
  [403, 'InvalidProviderToken', 'credentials_invalid'],
  [403, 'MissingProviderToken', 'credentials_invalid'],
  [403, 'UnrelatedKeyIdInToken', 'retry'],
  [403, 'BadEnvironmentKeyIdInToken', 'credentials_invalid'],
  [404, 'BadPath', 'rejected'],
  [405, 'MethodNotAllowed', 'rejected'],
  [410, 'ExpiredToken', 'token_invalid'],
  [410, 'Unregistered', 'token_invalid'],
  [413, 'PayloadTooLarge', 'rejected'],
  [429, 'TooManyProviderTokenUpdates', 'retry'],
  [429, 'TooManyRequests', 'retry'],
  [500, 'InternalServerError', 'provider_down'],
  [503, 'ServiceUnavailable', 'provider_down'],
  [503, 'Shutdown', 'provider_down'],
];

for (const [status, reason, kind] of table) {
  test(`APNs ${status} ${reason} → ${kind}`, () => {
    const o = apnsOutcome(status, reason);
    assert.equal(o.kind, kind);
    if (o.kind !== 'delivered') assert.equal(o.reason, reason);
  });
}

test('200 is delivered; unknown 4xx are rejected, unknown 5xx are an outage, 410 without reason is dead', () => {
  assert.equal(apnsOutcome(200, undefined).kind, 'delivered');
  assert.equal(apnsOutcome(400, 'SomethingNew').kind, 'rejected');
  assert.equal(apnsOutcome(502, undefined).kind, 'provider_down');
  assert.equal(apnsOutcome(410, undefined).kind, 'token_invalid');
});

test('Retry-After travels with retries and outages', () => {
  const o = apnsOutcome(429, 'TooManyRequests', 5_000);
  assert.equal(o.kind === 'retry' && o.retryAfterMs, 5_000);
  const d = apnsOutcome(503, 'ServiceUnavailable', 2_000);
  assert.equal(d.kind === 'provider_down' && d.retryAfterMs, 2_000);
});

test('Retry-After parses seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('3', Date.now()), 3_000);
  assert.equal(parseRetryAfter(undefined, Date.now()), undefined);
  assert.equal(parseRetryAfter('soon', Date.now()), undefined);
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
});
