import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildFcmMessage, fcmMaxPayloadBytes, fcmPayloadBytes, reservedDataKey, type FcmBuildResult, type FcmMessage,
} from './fcm-message.js';

const token = 'fGx1:APA91bH-token_0';

function ok(r: FcmBuildResult): FcmMessage {
  assert.ok(r.ok, r.ok ? '' : `${r.code}: ${r.message}`);
  return r.message;
}
function error(r: FcmBuildResult): { code: string; message: string } {
  assert.ok(!r.ok, 'expected an error');
  return r;
}

test('maps title, body, data, priority, ttl and collapse id onto the v1 message for one token', () => {
  const r = buildFcmMessage(token, {
    title: 'Hi', body: 'There', data: { order: 'A-1', count: 3, paid: true, items: [1, 2], extra: { a: 1 }, none: null },
    priority: 'high', ttl_seconds: 3600, collapse_id: 'orders',
  });
  assert.deepEqual(ok(r), {
    token,
    notification: { title: 'Hi', body: 'There' },
    data: { order: 'A-1', count: '3', paid: 'true', items: '[1,2]', extra: '{"a":1}', none: 'null' },
    android: { priority: 'HIGH', ttl: '3600s', collapse_key: 'orders', notification: { tag: 'orders' } },
    apns: { headers: { 'apns-collapse-id': 'orders' } },
    webpush: { notification: { tag: 'orders' } },
  });
  assert.ok(r.ok);
  assert.deepEqual(JSON.parse(r.body), { message: r.message });
  assert.equal(r.payloadBytes, fcmPayloadBytes(r.message));
});

test('normal priority is NORMAL; a bare push has only its notification', () => {
  assert.equal(ok(buildFcmMessage(token, { title: 't', body: 'b', priority: 'normal' })).android?.priority, 'NORMAL');
  assert.deepEqual(ok(buildFcmMessage(token, { title: 't', body: 'b' })), { token, notification: { title: 't', body: 'b' } });
});

test('the message id and deeplink travel in data.herald, and the message id tags the notification', () => {
  const m = ok(buildFcmMessage(token, { title: 't', body: 'b', deeplink: 'https://example.com/o/1' }, { messageId: 'msg-1' }));
  assert.deepEqual(JSON.parse(m.data!.herald!), { m: 'msg-1', l: 'https://example.com/o/1' });
  assert.deepEqual(m.android, { notification: { tag: 'msg-1' } });
  assert.deepEqual(m.apns, { headers: { 'apns-collapse-id': 'msg-1' } });
  assert.deepEqual(m.webpush, { notification: { tag: 'msg-1' }, fcm_options: { link: 'https://example.com/o/1' } });
  // An app link is not an HTTPS page: it is for the app, not for FCM's web click handler.
  const app = ok(buildFcmMessage(token, { title: 't', body: 'b', deeplink: 'myapp://o/1' }));
  assert.equal(app.webpush, undefined);
  assert.deepEqual(JSON.parse(app.data!.herald!), { l: 'myapp://o/1' });
});

test('override blocks are merged over the derived ones, key by key', () => {
  const m = ok(buildFcmMessage(token, { title: 't', body: 'b', priority: 'high', collapse_id: 'c' }, {
    overrides: {
      android: { priority: 'NORMAL', restricted_package_name: 'com.example', notification: { channel_id: 'news' } },
      apns: { headers: { 'apns-priority': '5' }, payload: { aps: { sound: 'ping.caf' } } },
      webpush: { headers: { Urgency: 'high' } },
    },
  }));
  assert.deepEqual(m.android, { priority: 'NORMAL', collapse_key: 'c', notification: { tag: 'c', channel_id: 'news' }, restricted_package_name: 'com.example' });
  assert.deepEqual(m.apns, { headers: { 'apns-collapse-id': 'c', 'apns-priority': '5' }, payload: { aps: { sound: 'ping.caf' } } });
  assert.deepEqual(m.webpush, { notification: { tag: 'c' }, headers: { Urgency: 'high' } });
});

test('reserved data keys are refused by name, in data and in the platform data maps', () => {
  for (const key of ['from', 'message_type', 'google.c.a.e', 'gcm.notification.title']) {
    const e = error(buildFcmMessage(token, { title: 't', body: 'b', data: { [key]: 'x' } }));
    assert.equal(e.code, 'reserved_data_key');
    assert.match(e.message, new RegExp(`^data\\.${key.replace(/\./g, '\\.')}:`));
  }
  assert.equal(error(buildFcmMessage(token, { title: 't', body: 'b' }, { overrides: { android: { data: { from: 'x' } } } })).code, 'reserved_data_key');
  // Near misses are fine.
  for (const key of ['fromage', 'google', 'gcm.other', 'message_types']) assert.equal(reservedDataKey(key), undefined, key);
});

test('platform data maps must hold strings', () => {
  const e = error(buildFcmMessage(token, { title: 't', body: 'b' }, { overrides: { android: { data: { n: 1 } } } }));
  assert.deepEqual(e, { ok: false, code: 'invalid_data', message: 'android.data.n must be a string: FCM data is map<string, string>' });
});

test('ttl must be whole seconds within four weeks, and an override ttl a duration', () => {
  assert.equal(error(buildFcmMessage(token, { title: 't', body: 'b', ttl_seconds: 1.5 })).code, 'invalid_ttl');
  assert.equal(error(buildFcmMessage(token, { title: 't', body: 'b', ttl_seconds: -1 })).code, 'invalid_ttl');
  assert.equal(error(buildFcmMessage(token, { title: 't', body: 'b', ttl_seconds: 2_419_201 })).code, 'invalid_ttl');
  assert.equal(ok(buildFcmMessage(token, { title: 't', body: 'b', ttl_seconds: 0 })).android?.ttl, '0s');
  assert.equal(error(buildFcmMessage(token, { title: 't', body: 'b' }, { overrides: { android: { ttl: 3600 } } })).code, 'invalid_ttl');
  assert.equal(ok(buildFcmMessage(token, { title: 't', body: 'b' }, { overrides: { android: { ttl: '3.5s' } } })).android?.ttl, '3.5s');
  assert.equal(error(buildFcmMessage(token, { title: 't', body: 'b' }, { overrides: { android: { priority: 'high' } } })).code, 'invalid_override');
});

test('an override that is not an object, or a malformed token, is refused', () => {
  const e = error(buildFcmMessage(token, { title: 't', body: 'b' }, { overrides: { apns: [] as unknown as Record<string, unknown> } }));
  assert.equal(e.code, 'invalid_override');
  assert.equal(error(buildFcmMessage('', { title: 't', body: 'b' })).code, 'invalid_token');
  assert.equal(error(buildFcmMessage('a token', { title: 't', body: 'b' })).code, 'invalid_token');
});

test('the size limit counts UTF-8 bytes of keys and values but not the token: 4096 passes, 4097 does not', () => {
  const base = fcmPayloadBytes(ok(buildFcmMessage(token, { title: 't', body: '' })));
  const fill = (n: number) => buildFcmMessage(token, { title: 't', body: 'x'.repeat(n) });
  const exact = fill(fcmMaxPayloadBytes - base);
  assert.ok(exact.ok);
  assert.equal(exact.payloadBytes, fcmMaxPayloadBytes);
  const over = error(fill(fcmMaxPayloadBytes - base + 1));
  assert.equal(over.code, 'payload_too_large');
  assert.match(over.message, /4097 bytes/);
  // é is two bytes in UTF-8.
  assert.equal(fcmPayloadBytes({ notification: { title: 'é' } }) - fcmPayloadBytes({ notification: { title: 'e' } }), 1);
  // The token does not count: a long token leaves the payload budget alone.
  assert.equal(fcmPayloadBytes({ token: 'x'.repeat(500), data: { a: 'b' } }), fcmPayloadBytes({ data: { a: 'b' } }));
});
