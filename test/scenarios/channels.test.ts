/**
 * Every channel end to end through its simulator: one send to a profile reaches its iPhone (APNs),
 * its Android phone (FCM), its browser (Web Push, decrypted here by an independent implementation),
 * its email address and its phone number; each provider's dead-address answer invalidates, suppresses
 * or opts out, and the next send skips what it must.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';
import { identityToken } from '../../src/domain/identity-token.js';

const ece = createRequire(import.meta.url)('http_ece') as { decrypt(buf: Buffer, params: Record<string, unknown>): Buffer };

let h: TestHerald;
let inspection: string;
before(async () => {
  h = await startTestHerald();
  inspection = h.herald.sandbox!.inspectionUrl;
});
after(async () => { await h.close(); });

const sdk = (path: string, body: unknown) => h.call('POST', path, body, { authorization: `Bearer ${h.project.sdk_key}` });
const records = async (channel: string, target: string) =>
  (await (await fetch(`${inspection}/_sandbox/deliveries?channel=${channel}&target=${encodeURIComponent(target)}`)).json()) as any[];
const fault = async (rule: Record<string, unknown>) => {
  const res = await fetch(`${inspection}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule) });
  assert.equal(res.status, 201, await res.text());
};

/** A person with every kind of address, registered as the SDKs and the API would. */
async function person(name: string) {
  const suffix = randomBytes(4).toString('hex');
  const iosToken = randomBytes(32).toString('hex');
  const fcmToken = `fcm-${name}-${suffix}:${randomBytes(20).toString('base64url')}`;
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const subscriptionId = `web-${name}-${suffix}`;
  const endpoint = `${h.herald.sandbox!.endpoints.webpush}/push/${subscriptionId}`;
  const email = `${name}-${suffix}@example.org`;
  const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
  const customId = `${name}-${suffix}`;
  for (const i of [
    { install_id: `ios-${suffix}`, platform: 'ios', push_token: iosToken, custom_id: customId, apns_environment: 'sandbox' },
    { install_id: `and-${suffix}`, platform: 'android', push_token: fcmToken, custom_id: customId },
    { install_id: `web-${suffix}`, platform: 'web', custom_id: customId,
      web_push_subscription: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } } },
  ]) {
    const r = await sdk('/v1/sdk/installations', { ...i, identity_token: identityToken(h.project.identity_secret, customId) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const p = await h.call('PUT', `/v1/profiles/${customId}`, { email, phone, email_subscription: 'subscribed', sms_subscription: 'subscribed' });
  assert.ok(p.status < 300, JSON.stringify(p.body));
  return { customId, iosToken, fcmToken, subscriptionId, ecdh, auth, email, phone };
}

async function send(customId: string, extra: Record<string, unknown> = {}) {
  const r = await h.call('POST', '/v1/transactional/send', {
    group_id: 'channels',
    recipients: { custom_ids: [customId] },
    push: { title: 'Hello', body: 'from Herald', data: { k: 'v' }, ios: { title: 'Hello iPhone' } },
    email: { subject: 'Hello by email', text: 'Plain text', html: '<p>HTML</p>' },
    sms: { text: 'Hello by SMS' },
    ...extra,
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body.message_id as string;
}

const statuses = async (messageId: string) => {
  const r = await h.call('GET', `/v1/messages/${messageId}`);
  return Object.fromEntries((r.body.recipients as any[]).map((x) => [x.platform, x.status])) as Record<string, string>;
};

test('one send reaches a profile on all five channels, each through its own provider', async () => {
  const p = await person('alice');
  const id = await send(p.customId);
  const done = await eventually(async () => {
    const s = await statuses(id);
    return Object.keys(s).length === 5 && !Object.values(s).includes('queued') && s.sms === 'delivered' ? s : undefined;
  }, 30_000, 'every channel final');
  assert.deepEqual(done, { ios: 'sent', android: 'sent', web: 'sent', email: 'sent', sms: 'delivered' },
    JSON.stringify((await h.call('GET', `/v1/messages/${id}`)).body.recipients.map((x: any) => [x.platform, x.reason])));

  // Each recipient names its channel and what its target is (GET /v1/messages, docs/architecture.md "Channels").
  const endpoint = `${h.herald.sandbox!.endpoints.webpush}/push/${p.subscriptionId}`;
  const seen = (await h.call('GET', `/v1/messages/${id}`)).body.recipients.map((x: any) => [x.platform, x.channel, x.target, x.target_kind]);
  assert.deepEqual(seen.sort(), [
    ['android', 'fcm', p.fcmToken, 'token'], ['email', 'email', p.email, 'address'], ['ios', 'apns', p.iosToken, 'token'],
    ['sms', 'sms', p.phone, 'number'], ['web', 'webpush', endpoint, 'subscription'],
  ]);

  const [apns] = await records('apns', p.iosToken);
  assert.equal(JSON.parse(Buffer.from(apns.body_base64, 'base64').toString()).aps.alert.title, 'Hello iPhone', 'the iOS override');
  const [fcm] = await records('fcm', p.fcmToken);
  const fcmMessage = JSON.parse(Buffer.from(fcm.body_base64, 'base64').toString()).message;
  assert.equal(fcmMessage.notification.title, 'Hello', 'no iOS override on Android');
  assert.equal(fcmMessage.data.k, 'v');
  const [web] = await records('webpush', p.subscriptionId);
  const clear = JSON.parse(ece.decrypt(Buffer.from(web.body_base64, 'base64'), { version: 'aes128gcm', privateKey: p.ecdh, authSecret: p.auth.toString('base64url') }).toString());
  assert.equal(clear.title, 'Hello');
  assert.equal(clear.herald.m, id);
  assert.ok(web.headers.topic, 'a Topic header, so a re-send replaces the pending copy');
  const [mail] = await records('email', p.email);
  const raw = Buffer.from(mail.body_base64, 'base64').toString();
  assert.match(raw, /^Subject: Hello by email/m);
  assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m);
  assert.match(raw, /^DKIM-Signature:/m);
  const [sms] = await records('sms', p.phone);
  assert.equal(new URLSearchParams(Buffer.from(sms.body_base64, 'base64').toString()).get('Body'), 'Hello by SMS');
  const [row] = await h.db.sql<{ provider_message_id: string; segments: number; encoding: string }[]>`
    select provider_message_id, segments, encoding from deliveries where message_id = ${id} and platform = 'sms'`;
  assert.match(row!.provider_message_id, /^SM[0-9a-f]{32}$/);
  assert.deepEqual([row!.segments, row!.encoding], [1, 'GSM-7']);
});

test('dead addresses: FCM UNREGISTERED and Web Push 410 invalidate, a 550 suppresses, 21610 opts out; the next send skips them', async () => {
  const p = await person('bob');
  await fault({ channel: 'fcm', target_prefix: p.fcmToken, status: 404, reason: 'UNREGISTERED' });
  await fault({ channel: 'webpush', target_prefix: p.subscriptionId, status: 410, reason: 'Gone' });
  await fault({ channel: 'email', target_prefix: p.email, status: 550, reason: '5.1.1 user unknown' });
  await fault({ channel: 'sms', target_prefix: p.phone, status: 400, reason: '21610' });
  const first = await send(p.customId);
  const s1 = await eventually(async () => {
    const s = await statuses(first);
    return Object.keys(s).length === 5 && !Object.values(s).includes('queued') ? s : undefined;
  }, 30_000, 'first send final');
  assert.deepEqual(s1, { ios: 'sent', android: 'invalidated', web: 'invalidated', email: 'invalidated', sms: 'invalidated' });
  const suppressed = await h.call('GET', '/v1/email/suppressions');
  assert.ok((suppressed.body.suppressions as any[]).some((x) => x.address === p.email && x.reason === 'hard_bounce'));

  const second = await send(p.customId);
  const s2 = await eventually(async () => {
    const s = await statuses(second);
    return Object.keys(s).length >= 3 && !Object.values(s).includes('queued') ? s : undefined;
  }, 30_000, 'second send final');
  assert.equal(s2.ios, 'sent');
  assert.equal(s2.email, 'skipped');
  assert.equal(s2.sms, 'skipped');
  assert.equal(s2.android, 'invalidated', 'a dead token is not tried again');
  assert.equal(s2.web, 'invalidated');
  assert.equal((await records('fcm', p.fcmToken)).length, 0, 'the refused request is not listed; no accepted one either');
  assert.equal((await records('email', p.email)).length, 0, 'nothing reached the bounced address');
});
