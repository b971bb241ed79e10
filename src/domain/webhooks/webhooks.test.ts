import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { generateSecret, payloadOf, sign, signedHeaders, signingSecrets } from './signing.js';
import { defaultRetrySchedule, nextAttemptDelayMs, parseRetryAfter, shouldDisable } from './schedule.js';
import { normalizeFilter, wants } from './event-types.js';

test('a signature is what the standardwebhooks package verifies, and a rotation signs with both secrets', () => {
  const current = generateSecret();
  const previous = generateSecret();
  assert.match(current, /^whsec_[A-Za-z0-9+/]{43}=$/);
  const body = payloadOf('email.bounced', new Date('2026-01-02T03:04:05.000Z'), { address: 'a@example.com' });
  const ts = Math.floor(Date.now() / 1000);
  const headers = signedHeaders([current, previous], 'evt-1', ts, body);
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  assert.deepEqual(new Webhook(current).verify(body, { ...headers }), JSON.parse(body));
  assert.deepEqual(new Webhook(previous).verify(body, { ...headers }), JSON.parse(body));
  assert.throws(() => new Webhook(generateSecret()).verify(body, { ...headers }), /No matching signature/);
  assert.throws(() => new Webhook(current).verify(body + ' ', { ...headers }), /No matching signature/);
  // The same bytes as the package's own signer.
  assert.equal(sign(current, 'evt-1', ts, body), new Webhook(current).sign('evt-1', new Date(ts * 1000), body));
  assert.deepEqual(JSON.parse(body), { type: 'email.bounced', timestamp: '2026-01-02T03:04:05.000Z', data: { address: 'a@example.com' } });
});

test('the previous secret signs until its grace ends', () => {
  assert.deepEqual(signingSecrets('new', { secret: 'old', expiresAt: 2000 }, 1999), ['new', 'old']);
  assert.deepEqual(signingSecrets('new', { secret: 'old', expiresAt: 2000 }, 2000), ['new']);
  assert.deepEqual(signingSecrets('new', null, 0), ['new']);
});

test('retries follow the schedule with ±10 % jitter, honour Retry-After, and end after the last delay', () => {
  assert.equal(nextAttemptDelayMs(1, { random: 0.5 }), 5_000);
  assert.equal(nextAttemptDelayMs(1, { random: 0 }), 4_500);
  assert.equal(nextAttemptDelayMs(1, { random: 0.999999 }), 5_500);
  assert.equal(nextAttemptDelayMs(2, { random: 0.5 }), 300_000);
  assert.equal(nextAttemptDelayMs(defaultRetrySchedule.length, { random: 0.5 }), 36_000_000);
  assert.equal(nextAttemptDelayMs(defaultRetrySchedule.length + 1, { random: 0.5 }), undefined);
  const total = defaultRetrySchedule.reduce((a, b) => a + b, 0);
  assert.ok(total > 24 * 3_600_000 && total < 30 * 3_600_000, 'about a day');
  assert.equal(nextAttemptDelayMs(1, { random: 0.5, retryAfterMs: 120_000 }), 120_000, 'Retry-After later than the schedule');
  assert.equal(nextAttemptDelayMs(2, { random: 0.5, retryAfterMs: 1_000 }), 300_000, 'never earlier than the schedule');
  assert.equal(nextAttemptDelayMs(1, { random: 0.5, retryAfterMs: 10 * 86_400_000 }), 36_000_000, 'capped');
  assert.equal(parseRetryAfter('120', 0), 120_000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:00 GMT')), 60_000);
  assert.equal(parseRetryAfter('soon', 0), undefined);
  assert.equal(parseRetryAfter(undefined, 0), undefined);
});

test('an endpoint is disabled after failing continuously for the period', () => {
  const day = 86_400_000;
  assert.equal(shouldDisable(null, 10 * day), false);
  assert.equal(shouldDisable(0, 5 * day - 1), false);
  assert.equal(shouldDisable(0, 5 * day), true);
  assert.equal(shouldDisable(0, 2 * day, day), true);
});

test('a filter is known types, sorted and once each; empty wants everything', () => {
  assert.deepEqual(normalizeFilter(['message.sent', 'email.bounced', 'message.sent']), { ok: true, types: ['email.bounced', 'message.sent'] });
  assert.deepEqual(normalizeFilter(['message.*']), { ok: false, unknown: 'message.*' });
  assert.equal(normalizeFilter(['profile.updated']).ok, true, 'a coming type is accepted');
  assert.equal(wants([], 'sms.opted_out'), true);
  assert.equal(wants(['message.sent'], 'message.failed'), false);
  assert.equal(wants(['message.sent'], 'message.sent'), true);
});
