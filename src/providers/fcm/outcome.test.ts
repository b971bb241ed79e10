import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutcomeKind } from '../../domain/outcome.js';
import {
  fcmErrorType, fcmOutcome, minQuotaRetryMs, needsFreshAccessToken, quotaFailureType, quotaScope, readFcmAnswer, type FcmAnswer,
} from './outcome.js';

/** A google.rpc.Status body as FCM sends it (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). */
function errorBody(code: number, status: string, message: string, errorCode?: string, extra: unknown[] = []): string {
  const details = [...(errorCode ? [{ '@type': fcmErrorType, errorCode }] : []), ...extra];
  return JSON.stringify({ error: { code, message, status, details } });
}
const answer = (code: number, status: string, message: string, errorCode?: string, extra?: unknown[]): FcmAnswer =>
  readFcmAnswer(code, errorBody(code, status, message, errorCode, extra));

// Google's table, https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode: every errorCode with its HTTP status and the action it calls for.
const table: [number, string, string, string | undefined, OutcomeKind][] = [
  [400, 'INVALID_ARGUMENT', 'Invalid value at \'message.android.ttl\'', 'INVALID_ARGUMENT', 'rejected'],
  [400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT', 'token_invalid'],
  [401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', 'THIRD_PARTY_AUTH_ERROR', 'credentials_invalid'],
  [403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH', 'token_invalid'],
  [404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED', 'token_invalid'],
  [429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED', 'retry'],
  [503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE', 'provider_down'],
  [500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL', 'provider_down'],
  // Without an FcmError detail, the HTTP status decides.
  [401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.', undefined, 'credentials_invalid'],
  [403, 'PERMISSION_DENIED', 'Permission \'cloudmessaging.messages.create\' denied', undefined, 'credentials_invalid'],
  [404, 'NOT_FOUND', 'Requested entity was not found.', undefined, 'rejected'],
  [400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', 'UNSPECIFIED_ERROR', 'rejected'],
  [502, 'UNAVAILABLE', 'Bad gateway', undefined, 'provider_down'],
];

for (const [code, status, message, errorCode, kind] of table) {
  test(`FCM ${code} ${errorCode ?? `${status} without FcmError`}${kind === 'token_invalid' && code === 400 ? ' (malformed token)' : ''} → ${kind}`, () => {
    const o = fcmOutcome(answer(code, status, message, errorCode));
    assert.equal(o.kind, kind);
    if (o.kind !== 'delivered') {
      assert.equal(o.status, code);
      assert.match(o.reason, new RegExp(`^${errorCode && errorCode !== 'UNSPECIFIED_ERROR' ? errorCode : status}`));
    }
  });
}

test('200 is delivered with the message name as provider id', () => {
  const a = readFcmAnswer(200, JSON.stringify({ name: 'projects/p/messages/0:1%ab' }));
  assert.deepEqual(fcmOutcome(a), { kind: 'delivered', providerId: 'projects/p/messages/0:1%ab' });
});

test('reasons an operator acts on carry Google\'s message; token and retry reasons are the bare code', () => {
  const bad = fcmOutcome(answer(400, 'INVALID_ARGUMENT', 'Invalid value at \'message.android.ttl\'', 'INVALID_ARGUMENT'));
  assert.deepEqual(bad, { kind: 'rejected', reason: 'INVALID_ARGUMENT: Invalid value at \'message.android.ttl\'', status: 400 });
  assert.deepEqual(fcmOutcome(answer(404, 'NOT_FOUND', 'x', 'UNREGISTERED')), { kind: 'token_invalid', reason: 'UNREGISTERED', status: 404 });
});

test('QUOTA_EXCEEDED honours Retry-After, waits at least a minute without one, and leaves the device case to backoff', () => {
  const withHeader = fcmOutcome(answer(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED'), 7_000);
  assert.deepEqual(withHeader, { kind: 'retry', reason: 'QUOTA_EXCEEDED', status: 429, retryAfterMs: 7_000 });
  const project = fcmOutcome(answer(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric \'Sent messages\'', 'QUOTA_EXCEEDED'));
  assert.equal(project.kind === 'retry' && project.retryAfterMs, minQuotaRetryMs);
  const device = answer(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED', [
    { '@type': quotaFailureType, violations: [{ subject: 'token', description: 'Message rate exceeded for this device' }] },
  ]);
  assert.equal(quotaScope(device), 'device');
  const d = fcmOutcome(device);
  assert.equal(d.kind, 'retry');
  assert.equal(d.kind === 'retry' && d.retryAfterMs, undefined);
  // A bare 429 from the front end is read as the project case.
  const bare = readFcmAnswer(429, 'Too Many Requests');
  assert.equal(quotaScope(bare), 'project');
  assert.equal(fcmOutcome(bare).kind, 'retry');
});

test('UNAVAILABLE and INTERNAL carry Retry-After', () => {
  const u = fcmOutcome(answer(503, 'UNAVAILABLE', 'x', 'UNAVAILABLE'), 3_000);
  assert.deepEqual(u, { kind: 'provider_down', reason: 'UNAVAILABLE', status: 503, retryAfterMs: 3_000 });
  const i = fcmOutcome(answer(500, 'INTERNAL', 'x', 'INTERNAL'), 2_000);
  assert.deepEqual(i, { kind: 'provider_down', reason: 'INTERNAL', status: 500, retryAfterMs: 2_000 });
});

test('only a 401 without an FcmError asks for a fresh access token', () => {
  assert.equal(needsFreshAccessToken(answer(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')), true);
  assert.equal(needsFreshAccessToken(readFcmAnswer(401, '')), true);
  assert.equal(needsFreshAccessToken(answer(401, 'UNAUTHENTICATED', 'x', 'THIRD_PARTY_AUTH_ERROR')), false);
  assert.equal(needsFreshAccessToken(answer(403, 'PERMISSION_DENIED', 'x')), false);
});

test('a body that is not a google.rpc.Status still maps by HTTP status', () => {
  assert.equal(fcmOutcome(readFcmAnswer(503, '<html>')).kind, 'provider_down');
  assert.equal(fcmOutcome(readFcmAnswer(400, '{"error": "nope"}')).kind, 'rejected');
  assert.deepEqual(readFcmAnswer(400, errorBody(400, 'INVALID_ARGUMENT', 'm', 'INVALID_ARGUMENT', [
    { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'message.data[0].value', description: 'd' }] },
  ])).error?.fields, ['message.data[0].value']);
});

test('the FcmError code decides whatever the HTTP status says', () => {
  assert.equal(fcmOutcome(answer(400, 'FAILED_PRECONDITION', 'x', 'THIRD_PARTY_AUTH_ERROR')).kind, 'credentials_invalid');
  assert.equal(fcmOutcome(answer(400, 'FAILED_PRECONDITION', 'x', 'INTERNAL')).kind, 'provider_down');
  assert.equal(fcmOutcome(answer(400, 'FAILED_PRECONDITION', 'x', 'UNAVAILABLE')).kind, 'provider_down');
  assert.equal(fcmOutcome(answer(400, 'FAILED_PRECONDITION', 'x', 'UNREGISTERED')).kind, 'token_invalid');
  assert.equal(fcmOutcome(answer(400, 'FAILED_PRECONDITION', 'x', 'QUOTA_EXCEEDED')).kind, 'retry');
});
