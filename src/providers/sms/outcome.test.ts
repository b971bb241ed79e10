import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutcomeKind } from '../../domain/outcome.js';
import { defaultRateLimitRetryMs, readTwilioAnswer, twilioOutcome } from './outcome.js';

/** Twilio's v2010 error resource (https://www.twilio.com/docs/messaging/api/message-resource). */
const errorBody = (code: number, status: number, message: string) =>
  JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

// https://www.twilio.com/docs/api/errors: each code with the HTTP status Twilio answers it with, and its action.
const table: [number, number, string, OutcomeKind][] = [
  [400, 21211, 'The \'To\' number 12345 is not a valid phone number.', 'token_invalid'],
  [400, 21610, 'Attempt to send to unsubscribed recipient', 'token_invalid'],
  [400, 21614, '\'To\' number is not a valid mobile number', 'token_invalid'],
  [401, 20003, 'Authenticate', 'credentials_invalid'],
  [401, 30002, 'Account suspended', 'credentials_invalid'],
  [429, 20429, 'Too Many Requests', 'retry'],
  [400, 21611, 'This \'From\' number has exceeded the maximum number of queued messages', 'retry'],
  [429, 30001, 'Queue overflow', 'retry'],
  [400, 21408, 'Permission to send an SMS has not been enabled for the region indicated by the \'To\' number', 'rejected'],
  [400, 21617, 'The concatenated message body exceeds the 1600 character limit.', 'rejected'],
  [400, 90007, 'Invalid ValidityPeriod', 'rejected'],
  [404, 20404, 'The requested resource was not found', 'rejected'],
  [500, 20500, 'Internal Server Error', 'provider_down'],
  [503, 20503, 'Service Unavailable', 'provider_down'],
  // A code the table does not know: the HTTP status decides.
  [400, 21999, 'Some future refinement', 'rejected'],
  [401, 20999, 'Some future auth error', 'credentials_invalid'],
  [429, 20999, 'Some future rate limit', 'retry'],
  [502, 20999, 'Bad gateway', 'provider_down'],
];

for (const [status, code, message, kind] of table) {
  test(`Twilio ${status} ${code} → ${kind}`, () => {
    const o = twilioOutcome(readTwilioAnswer(status, errorBody(code, status, message)));
    assert.equal(o.kind, kind);
    assert.ok(o.kind !== 'delivered');
    assert.equal(o.status, status);
    assert.equal(o.reason, code === 21610 ? 'opted_out' : `${code}: ${message}`);
  });
}

test('201 with a message sid → delivered carrying the sid', () => {
  const body = JSON.stringify({ sid: 'SM0123456789abcdef0123456789abcdef', status: 'queued', num_segments: '1' });
  assert.deepEqual(twilioOutcome(readTwilioAnswer(201, body)), { kind: 'delivered', providerId: 'SM0123456789abcdef0123456789abcdef' });
});

test('a 2xx without a sid is not Twilio\'s answer: provider_down, so it is tried again', () => {
  assert.equal(twilioOutcome(readTwilioAnswer(200, '<html>portal</html>')).kind, 'provider_down');
});

test('429 honours Retry-After, and waits a second without one', () => {
  const a = readTwilioAnswer(429, errorBody(20429, 429, 'Too Many Requests'));
  assert.deepEqual(twilioOutcome(a, 7_000), { kind: 'retry', reason: '20429: Too Many Requests', status: 429, retryAfterMs: 7_000 });
  assert.equal((twilioOutcome(a) as { retryAfterMs?: number }).retryAfterMs, defaultRateLimitRetryMs);
});

test('5xx passes Retry-After on; a body that is not JSON still maps by status', () => {
  assert.deepEqual(twilioOutcome(readTwilioAnswer(503, 'upstream down'), 2_000), { kind: 'provider_down', reason: 'HTTP 503', status: 503, retryAfterMs: 2_000 });
  assert.deepEqual(twilioOutcome(readTwilioAnswer(401, '')), { kind: 'credentials_invalid', reason: 'HTTP 401', status: 401 });
  assert.deepEqual(twilioOutcome(readTwilioAnswer(418, '')), { kind: 'rejected', reason: 'HTTP 418', status: 418 });
});
