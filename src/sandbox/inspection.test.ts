/**
 * The inspection API over real HTTP (docs/sandbox.md): endpoints, credentials and
 * certificate, and the deliveries listing with its filters.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { startSandbox, type Sandbox } from './index.js';
import { silentLogger } from '../observability/logger.js';
import { linkSandbox } from '../sandbox-link.js';
import { connectApns, deviceToken, inspect, providerToken, push, recordsOf, within } from '../../test/support/sandbox.js';

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

test('GET /_sandbox/endpoints names each running simulator (APNs, FCM, Web Push, email, SMS), each on its own port', async () => {
  const r = await inspect(sandbox, 'GET', '/_sandbox/endpoints');
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ['apns', 'email', 'fcm', 'sms', 'webpush']);
  assert.match(r.body.email, /^smtp:\/\/127\.0\.0\.1:\d+$/);
  for (const channel of ['apns', 'fcm', 'webpush', 'sms'] as const) {
    assert.match(r.body[channel], /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(r.body[channel], sandbox.endpoints[channel]);
  }
  const ports = new Set([r.body.apns, r.body.fcm, r.body.webpush, r.body.email, r.body.sms, sandbox.inspectionUrl].map((u: string) => new URL(u).port));
  assert.equal(ports.size, 6);
});

test('GET /_sandbox/credentials includes the FCM service account whose token_uri the simulator serves', async () => {
  const r = await inspect(sandbox, 'GET', '/_sandbox/credentials');
  const sa = r.body.fcm.service_account;
  assert.equal(sa.type, 'service_account');
  assert.equal(sa.token_uri, `${sandbox.endpoints.fcm}/oauth2/token`);
  assert.match(sa.private_key, /^-----BEGIN PRIVATE KEY-----/);
});

test('GET /_sandbox/credentials gives a 10-character team and key id, a PKCS#8 P-256 key and the topic', async () => {
  const r = await inspect(sandbox, 'GET', '/_sandbox/credentials');
  assert.equal(r.status, 200);
  const c = r.body.apns;
  assert.deepEqual(Object.keys(c).sort(), ['key_id', 'private_key_pem', 'team_id', 'topic']);
  assert.match(c.team_id, /^[A-Z0-9]{10}$/);
  assert.match(c.key_id, /^[A-Z0-9]{10}$/);
  assert.notEqual(c.team_id, c.key_id);
  assert.equal(c.topic, 'com.example.app');
  assert.match(c.private_key_pem, /^-----BEGIN PRIVATE KEY-----\n/);
  const key = createPrivateKey(c.private_key_pem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.deepEqual(c, sandbox.credentials.apns);
});

test('GET /_sandbox/ca.pem is the certificate, as text, valid for 127.0.0.1 and localhost', async () => {
  const res = await fetch(`${sandbox.inspectionUrl}/_sandbox/ca.pem`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const pem = await res.text();
  assert.equal(pem, sandbox.caPem);
  const cert = new X509Certificate(pem);
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(cert.checkHost('localhost'), 'localhost');
});

test('linkSandbox reads the same endpoints, credentials and certificate from the inspection API', async () => {
  const link = await linkSandbox(sandbox.inspectionUrl + '/');
  assert.equal(link.inspectionUrl, sandbox.inspectionUrl);
  assert.deepEqual(link.endpoints, sandbox.endpoints);
  assert.deepEqual(link.credentials, sandbox.credentials);
  assert.equal(link.caPem, sandbox.caPem);
});

test('deliveries are listed oldest first, by exact target, accepted only unless include=rejected', async () => {
  const token = deviceToken();
  const longer = token + 'ff';
  assert.equal((await push(session, sandbox, jwt, { token, body: '{"aps":{"n":1}}' })).status, 200);
  assert.equal((await push(session, sandbox, jwt, { token, headers: { 'apns-priority': '7' } })).status, 400);
  assert.equal((await push(session, sandbox, jwt, { token, body: '{"aps":{"n":3}}' })).status, 200);
  assert.equal((await push(session, sandbox, jwt, { token: longer })).status, 200);
  const accepted = await recordsOf(sandbox, token, false);
  assert.deepEqual(accepted.map((r) => JSON.parse(Buffer.from(r.body_base64, 'base64').toString()).aps.n), [1, 3]);
  const all = await recordsOf(sandbox, token);
  assert.deepEqual(all.map((r) => [r.status, r.reason]), [[200, null], [400, 'BadPriority'], [200, null]]);
  const times = all.map((r) => Date.parse(r.received_at));
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  assert.equal(new Set(all.map((r) => r.id)).size, 3);
});

test('limit answers the oldest N; since answers those received strictly after it', async () => {
  const token = deviceToken();
  for (let i = 0; i < 5; i++) {
    assert.equal((await push(session, sandbox, jwt, { token })).status, 200);
    await new Promise((r) => setTimeout(r, 3)); // distinct milliseconds
  }
  const all = await recordsOf(sandbox, token);
  assert.equal(all.length, 5);
  const two = (await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=apns&target=${token}&limit=2`)).body;
  assert.deepEqual(two.map((r: any) => r.id), all.slice(0, 2).map((r) => r.id));
  const after = (await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=apns&target=${token}&since=${all[2].received_at}`)).body;
  assert.deepEqual(after.map((r: any) => r.id), all.slice(3).map((r) => r.id), 'since is exclusive');
  const page = (await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=apns&target=${token}&since=${all[0].received_at}&limit=1`)).body;
  assert.deepEqual(page.map((r: any) => r.id), [all[1].id]);
});

test('the default limit is 1000 and 10000 is allowed', async () => {
  const s = await startSandbox({ port: 0, log: silentLogger() });
  const c = await connectApns(s);
  try {
    const t = await providerToken(s);
    const token = deviceToken();
    await push(c, s, t, { token }); // raises the stream limit
    await Promise.all(Array.from({ length: 1100 }, () => push(c, s, t, { token })));
    assert.equal((await inspect(s, 'GET', '/_sandbox/deliveries?channel=apns')).body.length, 1000);
    assert.equal((await inspect(s, 'GET', '/_sandbox/deliveries?channel=apns&limit=10000')).body.length, 1101);
  } finally {
    c.close();
    await s.close();
  }
});

test('DELETE /_sandbox/deliveries forgets them all, or one channel\'s', async () => {
  const s = await startSandbox({ port: 0, log: silentLogger() });
  const c = await connectApns(s);
  try {
    const t = await providerToken(s);
    await push(c, s, t);
    await push(c, s, t);
    assert.equal((await inspect(s, 'GET', '/_sandbox/deliveries?channel=apns')).body.length, 2);
    assert.equal((await inspect(s, 'DELETE', '/_sandbox/deliveries?channel=fcm')).status, 204);
    assert.equal((await inspect(s, 'GET', '/_sandbox/deliveries?channel=apns')).body.length, 2, 'another channel was cleared');
    assert.equal((await inspect(s, 'DELETE', '/_sandbox/deliveries?channel=apns')).status, 204);
    assert.deepEqual((await inspect(s, 'GET', '/_sandbox/deliveries?channel=apns&include=rejected')).body, []);
    await push(c, s, t);
    assert.equal((await inspect(s, 'DELETE', '/_sandbox/deliveries')).status, 204);
    assert.deepEqual((await inspect(s, 'GET', '/_sandbox/deliveries?channel=apns')).body, []);
  } finally {
    c.close();
    await s.close();
  }
});

test('a channel with no simulator yet lists nothing', async () => {
  const r = await inspect(sandbox, 'GET', '/_sandbox/deliveries?channel=webpush');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, []);
});

const badQueries: [string, RegExp][] = [
  ['/_sandbox/deliveries', /channel is required/],
  ['/_sandbox/deliveries?channel=telegram', /channel must be one of/],
  ['/_sandbox/deliveries?channel=apns&channel=fcm', /more than once/],
  ['/_sandbox/deliveries?channel=apns&limit=0', /limit/],
  ['/_sandbox/deliveries?channel=apns&limit=10001', /limit/],
  ['/_sandbox/deliveries?channel=apns&limit=ten', /limit/],
  ['/_sandbox/deliveries?channel=apns&since=yesterday', /since/],
  ['/_sandbox/deliveries?channel=apns&include=all', /include/],
  ['/_sandbox/deliveries?channel=apns&targt=abc', /unknown query parameter "targt"/],
];
for (const [path, message] of badQueries) {
  test(`GET ${path} is refused with 400 invalid_query`, async () => {
    const r = await inspect(sandbox, 'GET', path);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'invalid_query');
    assert.match(r.body.error.message, message);
  });
}

test('DELETE /_sandbox/deliveries with an unknown channel is refused with 400', async () => {
  const r = await inspect(sandbox, 'DELETE', '/_sandbox/deliveries?channel=telegram');
  assert.equal(r.status, 400);
  assert.equal(r.body.error.code, 'invalid_query');
});

test('an unknown route answers 404 with the usual error body', async () => {
  const r = await inspect(sandbox, 'GET', '/_sandbox/nothing?x=1');
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { error: { code: 'not_found', message: 'no route GET /_sandbox/nothing' } });
});

test('close() stops both the inspection API and the simulator, and may be called twice', async () => {
  const s = await startSandbox({ port: 0, log: silentLogger() });
  const c = await connectApns(s);
  const closed = new Promise((r) => c.on('close', r));
  await s.close();
  await s.close();
  await within(closed, 2_000, 'the simulator connection to close');
  await assert.rejects(fetch(`${s.inspectionUrl}/_sandbox/endpoints`));
});
