/**
 * The APNs simulator over real sockets: TLS trusting only the sandbox's certificate, HTTP/2, and
 * ES256 provider tokens signed with jose from the credentials the sandbox issued. Each refusal is
 * checked against Apple's status and reason (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { SignJWT } from 'jose';
import { startSandbox, type Sandbox } from './index.js';
import { silentLogger } from '../observability/logger.js';
import { connectApns, deviceToken, providerToken, push, recordsOf, validBody, within, type PushOptions } from '../../test/support/sandbox.js';

let sandbox: Sandbox;
let session: ClientHttp2Session;
let jwt: string;
before(async () => {
  sandbox = await startSandbox({ port: 0, log: silentLogger() });
  session = await connectApns(sandbox);
  jwt = await providerToken(sandbox);
});
after(async () => {
  session.close();
  await sandbox.close();
});

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A body of exactly `n` bytes that is a valid payload. */
const payloadOf = (n: number) => {
  const s = JSON.stringify({ aps: {}, pad: '' });
  return JSON.stringify({ aps: {}, pad: 'x'.repeat(n - s.length) });
};

const otherKeyPem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

test('a valid push is accepted with an empty body, its apns-id echoed, and recorded as received', async () => {
  const token = deviceToken();
  const apnsId = '0192f3a4-5b6c-7d8e-9f01-23456789abcd';
  const a = await push(session, sandbox, jwt, { token, headers: { 'apns-id': apnsId, 'apns-priority': '5', 'apns-collapse-id': 'greeting', 'apns-expiration': '0' } });
  assert.equal(a.status, 200);
  assert.equal(a.headers['apns-id'], apnsId);
  assert.equal(a.body, '');
  const [rec, ...more] = await recordsOf(sandbox, token, false);
  assert.equal(more.length, 0);
  assert.equal(rec.channel, 'apns');
  assert.equal(rec.target, token);
  assert.equal(rec.status, 200);
  assert.equal(rec.reason, null);
  assert.match(rec.id, uuid);
  assert.ok(Math.abs(Date.parse(rec.received_at) - Date.now()) < 10_000, rec.received_at);
  assert.equal(rec.headers[':method'], 'POST');
  assert.equal(rec.headers[':path'], `/3/device/${token}`);
  assert.equal(rec.headers[':scheme'], 'https');
  assert.equal(rec.headers['apns-topic'], 'com.example.app');
  assert.equal(rec.headers['apns-push-type'], 'alert');
  assert.equal(rec.headers['apns-priority'], '5');
  assert.equal(rec.headers['apns-collapse-id'], 'greeting');
  assert.equal(rec.headers['apns-id'], apnsId);
  assert.equal(rec.headers.authorization, `bearer ${jwt}`);
  assert.equal(Buffer.from(rec.body_base64, 'base64').toString(), validBody);
});

test('a push without apns-id gets one made up, a lowercase UUID', async () => {
  const a = await push(session, sandbox, jwt);
  assert.equal(a.status, 200);
  assert.match(String(a.headers['apns-id']), uuid);
});

test('every push type is accepted on its own topic suffix, and a payload may reach 4096 bytes (5120 for VoIP)', async () => {
  const suffixes: Record<string, string> = {
    alert: '', background: '', location: '.location-query', voip: '.voip', complication: '.complication',
    fileprovider: '.pushkit.fileprovider', mdm: '', liveactivity: '.push-type.liveactivity', pushtotalk: '.voip-ptt',
  };
  for (const [type, suffix] of Object.entries(suffixes)) {
    const a = await push(session, sandbox, jwt, { headers: { 'apns-push-type': type, 'apns-topic': 'com.example.app' + suffix, 'apns-priority': '5' } });
    assert.equal(a.status, 200, `${type}: ${a.body}`);
  }
  assert.equal((await push(session, sandbox, jwt, { body: payloadOf(4096) })).status, 200, 'an alert of 4096 bytes');
  const big = payloadOf(5120);
  assert.equal(Buffer.byteLength(big), 5120);
  const voip = await push(session, sandbox, jwt, { headers: { 'apns-push-type': 'voip', 'apns-topic': 'com.example.app.voip' }, body: big });
  assert.equal(voip.status, 200);
});

const refusals: { name: string; status: number; reason: string; push: () => Promise<PushOptions & { jwt?: string | null }> }[] = [
  { name: 'a method other than POST', status: 405, reason: 'MethodNotAllowed', push: async () => ({ headers: { ':method': 'PUT' } }) },
  { name: 'a path outside /3/device/', status: 404, reason: 'BadPath', push: async () => ({ headers: { ':path': '/3/devices/abcd' } }) },
  { name: 'a device token that is not hex', status: 404, reason: 'BadPath', push: async () => ({ headers: { ':path': '/3/device/not-a-token' } }) },
  { name: 'an empty device token', status: 400, reason: 'MissingDeviceToken', push: async () => ({ headers: { ':path': '/3/device/' } }) },
  { name: 'a repeated header', status: 400, reason: 'DuplicateHeaders', push: async () => ({ headers: { 'apns-priority': ['10', '10'] } }) },
  { name: 'no apns-topic', status: 400, reason: 'MissingTopic', push: async () => ({ headers: { 'apns-topic': undefined } }) },
  { name: 'another bundle id', status: 400, reason: 'BadTopic', push: async () => ({ headers: { 'apns-topic': 'com.example.other' } }) },
  { name: 'a voip push on the bare bundle id', status: 400, reason: 'BadTopic', push: async () => ({ headers: { 'apns-push-type': 'voip' } }) },
  { name: 'an unknown push type', status: 400, reason: 'InvalidPushType', push: async () => ({ headers: { 'apns-push-type': 'banner' } }) },
  { name: 'a priority outside 1, 5, 10', status: 400, reason: 'BadPriority', push: async () => ({ headers: { 'apns-priority': '7' } }) },
  { name: 'a background push at priority 10', status: 400, reason: 'BadPriority', push: async () => ({ headers: { 'apns-push-type': 'background', 'apns-priority': '10' } }) },
  { name: 'a collapse id of 65 bytes', status: 400, reason: 'BadCollapseId', push: async () => ({ headers: { 'apns-collapse-id': 'é'.repeat(32) + 'x' } }) },
  { name: 'an upper-case apns-id', status: 400, reason: 'BadMessageId', push: async () => ({ headers: { 'apns-id': '0192F3A4-5B6C-7D8E-9F01-23456789ABCD' } }) },
  { name: 'an apns-id that is not a UUID', status: 400, reason: 'BadMessageId', push: async () => ({ headers: { 'apns-id': 'delivery-42' } }) },
  { name: 'an apns-expiration that is not an integer', status: 400, reason: 'BadExpirationDate', push: async () => ({ headers: { 'apns-expiration': 'tomorrow' } }) },
  { name: 'an empty body', status: 400, reason: 'PayloadEmpty', push: async () => ({ body: '' }) },
  { name: 'a body of 4097 bytes', status: 413, reason: 'PayloadTooLarge', push: async () => ({ body: payloadOf(4097) }) },
  { name: 'a VoIP body of 5121 bytes', status: 413, reason: 'PayloadTooLarge', push: async () => ({ body: payloadOf(5121), headers: { 'apns-push-type': 'voip', 'apns-topic': 'com.example.app.voip' } }) },
  { name: 'a body that is not JSON', status: 400, reason: 'BadPayload', push: async () => ({ body: 'hello' }) },
  { name: 'a JSON body without an aps dictionary', status: 400, reason: 'BadPayload', push: async () => ({ body: '{"alert":"hi"}' }) },
  { name: 'no authorization header', status: 403, reason: 'MissingProviderToken', push: async () => ({ jwt: null }) },
  { name: 'a JWT signed by another key', status: 403, reason: 'InvalidProviderToken', push: async () => ({ jwt: await providerToken(sandbox, { privateKeyPem: otherKeyPem() }) }) },
  { name: 'a JWT naming another key id', status: 403, reason: 'InvalidProviderToken', push: async () => ({ jwt: await providerToken(sandbox, { kid: 'ZZZZZZZZZZ' }) }) },
  { name: 'a JWT naming another team', status: 403, reason: 'InvalidProviderToken', push: async () => ({ jwt: await providerToken(sandbox, { iss: 'ZZZZZZZZZZ' }) }) },
  {
    name: 'a JWT signed with HS256', status: 403, reason: 'InvalidProviderToken',
    push: async () => ({
      jwt: await new SignJWT({ iss: sandbox.credentials.apns.team_id, iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg: 'HS256', kid: sandbox.credentials.apns.key_id }).sign(new Uint8Array(32)),
    }),
  },
  { name: 'a JWT without iat', status: 403, reason: 'InvalidProviderToken', push: async () => ({ jwt: await tokenWithoutIat() }) },
  { name: 'a JWT issued 61 minutes ago', status: 403, reason: 'ExpiredProviderToken', push: async () => ({ jwt: await providerToken(sandbox, { iat: Math.floor(Date.now() / 1000) - 61 * 60 }) }) },
];

/** A correctly signed token whose claims lack iat. */
async function tokenWithoutIat(): Promise<string> {
  const { importPKCS8 } = await import('jose');
  const c = sandbox.credentials.apns;
  return new SignJWT({ iss: c.team_id }).setProtectedHeader({ alg: 'ES256', kid: c.key_id }).sign(await importPKCS8(c.private_key_pem, 'ES256'));
}

for (const r of refusals) {
  test(`${r.name} is refused with ${r.status} ${r.reason}, a JSON reason and an apns-id, and recorded as rejected`, async () => {
    const token = deviceToken();
    const { jwt: own, ...o } = await r.push();
    // A bad token is tried on its own connection: the shared one keeps its accepted token.
    const s = own === undefined ? session : await connectApns(sandbox);
    try {
      const a = await push(s, sandbox, own === undefined ? jwt : own, { token, ...o });
      assert.equal(a.status, r.status, a.body);
      assert.deepEqual(a.json, { reason: r.reason });
      assert.equal(a.headers['content-type'], 'application/json');
      assert.match(String(a.headers['apns-id']), uuid);
      if (!o.headers?.[':path']) {
        const recs = await recordsOf(sandbox, token);
        assert.equal(recs.length, 1);
        assert.equal(recs[0].status, r.status);
        assert.equal(recs[0].reason, r.reason);
        assert.deepEqual(await recordsOf(sandbox, token, false), [], 'not listed without include=rejected');
      }
    } finally {
      if (s !== session) s.close();
    }
  });
}

test('a refusal does not close the connection: the next push on it is accepted', async () => {
  assert.equal((await push(session, sandbox, jwt, { headers: { 'apns-priority': '7' } })).status, 400);
  assert.equal((await push(session, sandbox, jwt)).status, 200);
});

test('a collapse id of exactly 64 bytes and a priority of 1 are accepted', async () => {
  const a = await push(session, sandbox, jwt, { headers: { 'apns-collapse-id': 'é'.repeat(32), 'apns-priority': '1' } });
  assert.equal(a.status, 200, a.body);
});

test('the connection allows one stream until a valid token was posted, then many', async () => {
  const s = await connectApns(sandbox);
  try {
    assert.equal(s.remoteSettings.maxConcurrentStreams, 1);
    const bad = await push(s, sandbox, await providerToken(sandbox, { privateKeyPem: otherKeyPem() }));
    assert.equal(bad.status, 403);
    assert.equal(s.remoteSettings.maxConcurrentStreams, 1, 'an invalid token does not raise the limit');
    const settingsChanged = once(s, 'remoteSettings');
    assert.equal((await push(s, sandbox, jwt)).status, 200);
    await within(settingsChanged, 2_000, 'new SETTINGS from the simulator');
    assert.equal(s.remoteSettings.maxConcurrentStreams, 1000);
    // And the connection now carries many pushes at once.
    const answers = await Promise.all(Array.from({ length: 200 }, () => push(s, sandbox, jwt)));
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
  } finally {
    s.close();
  }
});

test('provider tokens follow the injected clock: too early a refresh is 429, the same token 21 minutes later is accepted, and an hour later it expires', async () => {
  let now = Date.now();
  const timed = await startSandbox({ port: 0, log: silentLogger(), clock: () => now });
  const s = await connectApns(timed);
  try {
    const first = await providerToken(timed, { iat: Math.floor(now / 1000) });
    const second = await providerToken(timed, { iat: Math.floor(now / 1000) });
    assert.notEqual(first, second);
    assert.equal((await push(s, timed, first)).status, 200);
    const early = await push(s, timed, second);
    assert.equal(early.status, 429);
    assert.deepEqual(early.json, { reason: 'TooManyProviderTokenUpdates' });
    assert.equal((await push(s, timed, first)).status, 200, 'the connection keeps its token');

    // Another connection has no previous token: the second one is fine there at once.
    const other = await connectApns(timed);
    assert.equal((await push(other, timed, second)).status, 200);
    other.close();

    now += 21 * 60_000;
    assert.equal((await push(s, timed, second)).status, 200, 'refreshed after 21 minutes');

    now += 40 * 60_000; // second is now 61 minutes old, on the connection that accepted it
    const expired = await push(s, timed, second);
    assert.equal(expired.status, 403);
    assert.deepEqual(expired.json, { reason: 'ExpiredProviderToken' });
    const fresh = await providerToken(timed, { iat: Math.floor(now / 1000) });
    assert.equal((await push(s, timed, fresh)).status, 200, 'a new token replaces an expired one at once');
  } finally {
    s.close();
    await timed.close();
  }
});

test('a new token carried by many concurrent requests gets the same verdict for each', async () => {
  const s = await connectApns(sandbox);
  try {
    assert.equal((await push(s, sandbox, jwt)).status, 200);
    // A new token some requests carry at once, right after the 20-minute window: all refused alike.
    const next = await providerToken(sandbox);
    const answers = await Promise.all(Array.from({ length: 20 }, () => push(s, sandbox, next)));
    assert.deepEqual(answers.map((a) => a.json?.reason), Array(20).fill('TooManyProviderTokenUpdates'));
  } finally {
    s.close();
  }
});
