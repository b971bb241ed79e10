import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApnsPush, apnsPayloadBytes } from './apns-payload.js';

const created = Date.UTC(2026, 0, 1);

test('builds an alert with title, body, badge, sound, deeplink and custom data', () => {
  const p = buildApnsPush(
    { title: 'Hi', body: 'There', badge: 3, sound: 'ping.caf', deeplink: 'app://x', data: { order: 42 } },
    'msg-1',
    created,
  );
  assert.deepEqual(JSON.parse(p.payload), {
    order: 42,
    aps: { alert: { title: 'Hi', body: 'There' }, badge: 3, sound: 'ping.caf' },
    herald: { m: 'msg-1', l: 'app://x' },
  });
  assert.equal(p.priority, 10);
  assert.equal(p.pushType, 'alert');
});

test('normal priority is 5, ttl sets the expiration, the collapse id defaults to the message id', () => {
  const p = buildApnsPush({ title: 't', body: 'b', priority: 'normal', ttl_seconds: 60 }, 'm', created);
  assert.equal(p.priority, 5);
  assert.equal(p.expiration, created / 1000 + 60);
  assert.equal(p.collapseId, 'm');
  assert.equal(buildApnsPush({ title: 't', body: 'b', collapse_id: 'c' }, 'm', created).collapseId, 'c');
});

test('custom data cannot replace the aps dictionary', () => {
  const p = buildApnsPush({ title: 't', body: 'b', data: { aps: { evil: true } } }, 'm', created);
  assert.deepEqual(JSON.parse(p.payload).aps, { alert: { title: 't', body: 'b' } });
});

test('payload size counts UTF-8 bytes, not characters', () => {
  const p = buildApnsPush({ title: 'é', body: '' }, 'm', created);
  assert.equal(apnsPayloadBytes(p), Buffer.byteLength(p.payload));
  assert.ok(apnsPayloadBytes(p) > p.payload.length - 1);
});
