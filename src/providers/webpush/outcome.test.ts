import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reasonOf, webPushOutcome } from './outcome.js';
import type { OutcomeKind } from '../../domain/outcome.js';

// RFC 8030 §5–§8 and RFC 8292 §4: every documented status with its action.
const table: [number, string, OutcomeKind][] = [
  [201, 'Created: the push message resource is in Location (RFC 8030 §5)', 'delivered'],
  [202, 'Accepted: answer to Prefer: respond-async (RFC 8030 §5.1)', 'delivered'],
  [400, 'missing TTL, bad Urgency or Topic, k equal to the keyid', 'rejected'],
  [401, 'VAPID missing on a restricted subscription (RFC 8292 §4.2)', 'credentials_invalid'],
  [403, 'VAPID invalid or another key (RFC 8292 §4.2)', 'credentials_invalid'],
  [404, 'expired subscription (RFC 8030 §7.3)', 'token_invalid'],
  [408, 'request timeout', 'retry'],
  [410, 'unsubscribed (FCM, Mozilla)', 'token_invalid'],
  [413, 'body too large (RFC 8030 §7.2)', 'rejected'],
  [429, 'rate limited (RFC 8030 §8.4)', 'retry'],
  [500, 'internal error', 'provider_down'],
  [502, 'bad gateway', 'provider_down'],
  [503, 'unavailable', 'provider_down'],
  [504, 'gateway timeout', 'provider_down'],
];

for (const [status, what, kind] of table) {
  test(`Web Push ${status} (${what}) → ${kind}`, () => {
    const o = webPushOutcome(status, 'said so');
    assert.equal(o.kind, kind);
    if (o.kind !== 'delivered') {
      assert.equal(o.reason, 'said so');
      assert.equal(o.status, status);
    }
  });
}

test('delivered carries the push message resource from Location as the provider id', () => {
  assert.deepEqual(webPushOutcome(201, undefined, 'https://push.example.net/m/abc'), { kind: 'delivered', providerId: 'https://push.example.net/m/abc' });
  assert.deepEqual(webPushOutcome(201, undefined, undefined), { kind: 'delivered', providerId: undefined });
});

test('Retry-After travels with 429 and 5xx; an unknown 4xx is rejected; a reasonless answer names its status', () => {
  const slow = webPushOutcome(429, undefined, undefined, 30_000);
  assert.deepEqual(slow, { kind: 'retry', reason: 'HTTP 429', status: 429, retryAfterMs: 30_000 });
  const down = webPushOutcome(503, undefined, undefined, 5_000);
  assert.equal(down.kind === 'provider_down' && down.retryAfterMs, 5_000);
  assert.equal(webPushOutcome(415, undefined).kind, 'rejected');
  assert.equal(webPushOutcome(301, undefined).kind, 'rejected');
});

test('the reason is the body as one short line, or the message of a JSON body', () => {
  assert.equal(reasonOf(Buffer.from('invalid JWT provided\n')), 'invalid JWT provided');
  assert.equal(reasonOf('{"code":410,"errno":106,"error":"Gone","message":"Request did not validate"}'), 'Request did not validate');
  assert.equal(reasonOf('{"error":"Gone"}'), 'Gone');
  assert.equal(reasonOf('{not json'), '{not json');
  assert.equal(reasonOf(''), undefined);
  assert.equal(reasonOf('a\n  b'), 'a b');
  assert.equal(reasonOf('x'.repeat(1000))?.length, 200);
});
