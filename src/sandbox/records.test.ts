import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeliveryRecords } from './records.js';

const all = { channel: 'apns' as const, limit: 10_000, includeRejected: true };

test('records past the cap forget the oldest tenth at once, keeping the newest', () => {
  const records = createDeliveryRecords(100);
  for (let i = 0; i < 250; i++) {
    const r = records.open('apns', i, `t${i}`, []);
    r.status = 200;
  }
  assert.ok(records.size <= 100, `size ${records.size}`);
  const listed = records.list(all);
  assert.equal(listed.at(-1)?.target, 't249');
  assert.ok(listed.length >= 90);
  assert.deepEqual(listed.map((r) => r.target), listed.map((r) => r.target).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
});

test('a record is listed only once the simulator has answered it', () => {
  const records = createDeliveryRecords();
  const r = records.open('apns', 0, 'aa', [':method', 'POST']);
  assert.deepEqual(records.list(all), []);
  r.status = 200;
  r.body = Buffer.from('{"aps":{}}');
  const [listed] = records.list(all);
  assert.deepEqual(listed?.headers, { ':method': 'POST' });
  assert.equal(listed?.body_base64, Buffer.from('{"aps":{}}').toString('base64'));
  assert.equal(listed?.received_at, '1970-01-01T00:00:00.000Z');
});

test('a dropped request (status null) is listed only with include=rejected', () => {
  const records = createDeliveryRecords();
  const r = records.open('apns', 0, 'aa', []);
  r.status = null;
  r.reason = 'ConnectionDropped';
  assert.deepEqual(records.list({ ...all, includeRejected: false }), []);
  assert.equal(records.list(all)[0]?.status, null);
});

test('records are listed in order of received_at, whatever order their bodies ended in, so paging by since misses none', () => {
  const records = createDeliveryRecords();
  // Opened once each body is read: the second request's body ended before the first's.
  for (const [at, target] of [[10, 'a'], [12, 'c'], [11, 'b'], [12, 'd'], [13, 'e']] as const) records.open('apns', at, target, []).status = 200;
  assert.deepEqual(records.list(all).map((r) => r.target), ['a', 'b', 'c', 'd', 'e']);
  const first = records.list({ ...all, limit: 2 });
  assert.deepEqual(records.list({ ...all, sinceMs: Date.parse(first.at(-1)!.received_at) }).map((r) => r.target), ['c', 'd', 'e']);
});
