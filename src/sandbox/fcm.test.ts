/**
 * The FCM simulator over real sockets: TLS trusting only the sandbox's certificate, HTTP/2, RS256
 * assertions signed with jose from the service account it issued, and Herald's own FCM sender
 * driving it. Each refusal is checked against Google's status and FcmError
 * (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { SignJWT } from 'jose';
import { silentLogger } from '../observability/logger.js';
import { createFcmSender, type FcmAccount } from '../providers/fcm/client.js';
import { buildFcmMessage } from '../domain/fcm-message.js';
import {
  accessTokenFor, assertionFor, connectFcm, fcmRecordsOf, grantRaw, http1Request, registrationToken, sendRaw,
  startFcmTestSandbox, type FcmTestSandbox,
} from '../../test/support/sandbox-fcm.js';
import { defaultMaxConcurrentStreams } from './fcm.js';

let sb: FcmTestSandbox;
let session: ClientHttp2Session;
let accessToken: string;
let account: FcmAccount;
before(async () => {
  sb = await startFcmTestSandbox();
  session = await connectFcm(sb);
  accessToken = await accessTokenFor(sb, session);
  account = { ...sb.sim.serviceAccount, endpoint: sb.sim.url };
});
after(async () => {
  session.close();
  await sb.close();
});

const jwtBearer = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const otherKeyPem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const request = (token: string, data?: Record<string, unknown>) => {
  const r = buildFcmMessage(token, { title: 'Hi', body: 'there', data, priority: 'high', ttl_seconds: 60 }, { messageId: 'm-1' });
  assert.ok(r.ok);
  return { body: r.body };
};
const fcmErrorType = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
const badRequestType = 'type.googleapis.com/google.rpc.BadRequest';

test('Herald\'s sender gets a token, sends, and the simulator records the request with its headers and body', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const token = registrationToken();
    const req = request(token, { order: 42 });
    const o = await sender.send(account, req);
    assert.equal(o.kind, 'delivered');
    const project = sb.sim.serviceAccount.project_id;
    assert.match(String(o.kind === 'delivered' && o.providerId), new RegExp(`^projects/${project}/messages/0:\\d+%[0-9a-f]{16}$`));
    const [rec, ...more] = fcmRecordsOf(sb, token, false);
    assert.equal(more.length, 0);
    assert.equal(rec!.channel, 'fcm');
    assert.equal(rec!.target, token);
    assert.equal(rec!.status, 200);
    assert.equal(rec!.reason, null);
    assert.equal(rec!.headers[':method'], 'POST');
    assert.equal(rec!.headers[':path'], `/v1/projects/${project}/messages:send`);
    assert.equal(rec!.headers[':scheme'], 'https');
    assert.equal(rec!.headers['content-type'], 'application/json');
    assert.match(rec!.headers.authorization!, /^Bearer ya29\./);
    assert.equal(Buffer.from(rec!.body_base64, 'base64').toString(), req.body);
  } finally {
    await sender.close();
  }
});

test('the token endpoint grants a Bearer token for 3599 s to a valid assertion', async () => {
  const a = await grantRaw(session, { grant_type: jwtBearer, assertion: await assertionFor(sb) });
  assert.equal(a.status, 200, a.body);
  assert.deepEqual(Object.keys(a.json).sort(), ['access_token', 'expires_in', 'token_type']);
  assert.equal(a.json.expires_in, 3599);
  assert.equal(a.json.token_type, 'Bearer');
  assert.match(a.json.access_token, /^ya29\./);
  // The cloud-platform scope includes FCM, and a JWT without kid is verified against the account's only key.
  assert.equal((await grantRaw(session, { grant_type: jwtBearer, assertion: await assertionFor(sb, { scope: 'https://www.googleapis.com/auth/cloud-platform', kid: undefined }) })).status, 200);
});

const now = () => Math.floor(Date.now() / 1000);
const grantRefusals: { name: string; error: string; form: () => Promise<Record<string, string>> }[] = [
  { name: 'no grant_type', error: 'invalid_request', form: async () => ({ assertion: await assertionFor(sb) }) },
  { name: 'another grant type', error: 'unsupported_grant_type', form: async () => ({ grant_type: 'client_credentials', assertion: await assertionFor(sb) }) },
  { name: 'no assertion', error: 'invalid_request', form: async () => ({ grant_type: jwtBearer }) },
  { name: 'an assertion that is not a JWT', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: 'nope' }) },
  { name: 'a JWT signed by another key', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { privateKeyPem: otherKeyPem() }) }) },
  { name: 'a JWT naming another key id', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { kid: 'f'.repeat(40) }) }) },
  { name: 'a JWT from another account', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { iss: 'someone@else.iam.gserviceaccount.com' }) }) },
  { name: 'a JWT for another audience', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { aud: 'https://oauth2.googleapis.com/token' }) }) },
  { name: 'a JWT living longer than an hour', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { exp: now() + 3601 }) }) },
  { name: 'an expired JWT', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { iat: now() - 3700, exp: now() - 100 }) }) },
  { name: 'a JWT issued an hour from now', error: 'invalid_grant', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { iat: now() + 3600 }) }) },
  { name: 'a JWT without scope', error: 'invalid_scope', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { scope: undefined }) }) },
  { name: 'a JWT for another scope', error: 'invalid_scope', form: async () => ({ grant_type: jwtBearer, assertion: await assertionFor(sb, { scope: 'https://www.googleapis.com/auth/userinfo.email' }) }) },
  {
    name: 'a JWT signed with HS256', error: 'invalid_grant',
    form: async () => ({
      grant_type: jwtBearer,
      assertion: await new SignJWT({ iss: sb.sim.serviceAccount.client_email, aud: sb.sim.serviceAccount.token_uri, scope: 'https://www.googleapis.com/auth/firebase.messaging', iat: now(), exp: now() + 3600 })
        .setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32)),
    }),
  },
];

for (const r of grantRefusals) {
  test(`the token endpoint refuses ${r.name} with 400 ${r.error}`, async () => {
    const a = await grantRaw(session, await r.form());
    assert.equal(a.status, 400, a.body);
    assert.equal(a.json.error, r.error);
    assert.equal(typeof a.json.error_description, 'string');
  });
}

/** A valid message for a fresh token, with `change` applied to it. */
const messageFor = (token: string, change: (m: Record<string, unknown>) => void = () => undefined) => {
  const message: Record<string, unknown> = { token, notification: { title: 't', body: 'b' }, data: { a: '1' } };
  change(message);
  return { message };
};

interface SendRefusal {
  name: string;
  status: number;
  rpcStatus: string;
  /** The FcmError code, or undefined when Google sends none. */
  errorCode: string | undefined;
  field?: string;
  /** Google's message, where the status alone does not tell this refusal from another. */
  message?: RegExp;
  send: (token: string) => Promise<{ accessToken?: string | null; body?: unknown; project?: string; path?: string; method?: string }>;
}

const sendRefusals: SendRefusal[] = [
  { name: 'no authorization', status: 401, rpcStatus: 'UNAUTHENTICATED', errorCode: undefined, send: async () => ({ accessToken: null }) },
  { name: 'a bearer token it never issued', status: 401, rpcStatus: 'UNAUTHENTICATED', errorCode: undefined, send: async () => ({ accessToken: 'ya29.made-up' }) },
  { name: 'the assertion itself as bearer token', status: 401, rpcStatus: 'UNAUTHENTICATED', errorCode: undefined, send: async () => ({ accessToken: await assertionFor(sb) }) },
  { name: 'another project', status: 403, rpcStatus: 'PERMISSION_DENIED', errorCode: undefined, send: async () => ({ project: 'someone-elses-project' }) },
  { name: 'no target', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message', send: async (t) => ({ body: messageFor(t, (m) => { delete m.token; }) }) },
  { name: 'a token and a topic', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message', send: async (t) => ({ body: messageFor(t, (m) => { m.topic = 'news'; }) }) },
  { name: 'a token and a condition', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message', send: async (t) => ({ body: messageFor(t, (m) => { m.condition = '\'a\' in topics'; }) }) },
  { name: 'a malformed token', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.token', send: async (t) => ({ body: messageFor(`${t} with spaces`) }) },
  { name: 'a data value that is a number', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.data[1].value', send: async (t) => ({ body: messageFor(t, (m) => { m.data = { a: '1', n: 2 }; }) }) },
  { name: 'an android.data value that is a boolean', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.android.data[0].value', send: async (t) => ({ body: messageFor(t, (m) => { m.android = { data: { b: true } }; }) }) },
  { name: 'the reserved data key "from"', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.data', send: async (t) => ({ body: messageFor(t, (m) => { m.data = { from: 'x' }; }) }) },
  { name: 'the reserved data key "message_type"', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.data', send: async (t) => ({ body: messageFor(t, (m) => { m.data = { message_type: 'x' }; }) }) },
  { name: 'a data key starting with "google."', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.data', send: async (t) => ({ body: messageFor(t, (m) => { m.data = { 'google.sent_time': '1' }; }) }) },
  { name: 'a data key starting with "gcm.notification."', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.data', send: async (t) => ({ body: messageFor(t, (m) => { m.data = { 'gcm.notification.body': 'x' }; }) }) },
  { name: 'a message of 4097 bytes', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message', send: async (t) => ({ body: messageFor(t, (m) => { m.data = { a: 'x'.repeat(4097 - sizeWithout(m)) }; }) }) },
  { name: 'a topic message of 2049 bytes', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message', send: async () => ({ body: topicMessageOf(2049) }) },
  { name: 'a topic named with /topics/', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.topic', send: async () => ({ body: { message: { topic: '/topics/news' } } }) },
  { name: 'a condition of six topics', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.condition', send: async () => ({ body: { message: { condition: ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => `'${t}' in topics`).join(' || ') } } }) },
  { name: 'a body of 70 kB', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', message: /payload size exceeds the limit/, send: async (t) => ({ body: JSON.stringify(messageFor(t, (m) => { m.data = { a: 'x'.repeat(70_000) }; })) }) },
  { name: 'a lower-case android priority', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.android.priority', send: async (t) => ({ body: messageFor(t, (m) => { m.android = { priority: 'high' }; }) }) },
  { name: 'an android ttl in plain seconds', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message.android.ttl', send: async (t) => ({ body: messageFor(t, (m) => { m.android = { ttl: 3600 }; }) }) },
  { name: 'an unknown field beside the message', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', message: /Unknown name "dry_run"/, send: async (t) => ({ body: { ...messageFor(t), dry_run: true } }) },
  { name: 'an unknown field', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', field: 'message', send: async (t) => ({ body: messageFor(t, (m) => { m.priority = 'high'; }) }) },
  { name: 'a body that is not JSON', status: 400, rpcStatus: 'INVALID_ARGUMENT', errorCode: 'INVALID_ARGUMENT', send: async () => ({ body: 'token=abc' }) },
  { name: 'a path other than messages:send', status: 404, rpcStatus: 'NOT_FOUND', errorCode: undefined, send: async () => ({ path: '/v1/projects/p/messages:batchSend' }) },
  { name: 'a GET', status: 404, rpcStatus: 'NOT_FOUND', errorCode: undefined, send: async () => ({ method: 'GET' }) },
];

/** keys+values of a valid test message without its data, plus the "a" key: what the filler must add up to. */
function sizeWithout(_m: Record<string, unknown>): number {
  return 'notification'.length + 'title'.length + 1 + 'body'.length + 1 + 'data'.length + 'a'.length;
}
function topicMessageOf(bytes: number) {
  const fixed = 'data'.length + 'a'.length;
  return { message: { topic: 'news', data: { a: 'x'.repeat(bytes - fixed) } } };
}

for (const r of sendRefusals) {
  test(`a send with ${r.name} is refused with ${r.status} ${r.errorCode ?? r.rpcStatus} as a google.rpc.Status, and recorded as rejected`, async () => {
    const token = registrationToken();
    const o = await r.send(token);
    const project = o.project ?? sb.sim.serviceAccount.project_id;
    const a = await sendRaw(sb, session, o.accessToken === undefined ? accessToken : o.accessToken, o.body ?? messageFor(token), {
      project,
      headers: { ...(o.path ? { ':path': o.path } : {}), ...(o.method ? { ':method': o.method } : {}) },
    });
    assert.equal(a.status, r.status, a.body);
    assert.match(String(a.headers['content-type']), /^application\/json/);
    assert.equal(a.json.error.code, r.status);
    assert.equal(a.json.error.status, r.rpcStatus);
    assert.equal(typeof a.json.error.message, 'string');
    if (r.message) assert.match(a.json.error.message, r.message);
    const details: any[] = a.json.error.details ?? [];
    assert.deepEqual(details.filter((d) => d['@type'] === fcmErrorType).map((d) => d.errorCode), r.errorCode ? [r.errorCode] : []);
    if (r.field) {
      const violations = details.find((d) => d['@type'] === badRequestType)?.fieldViolations ?? [];
      assert.deepEqual(violations.map((v: any) => v.field), [r.field]);
    }
    // Recorded under its token whenever the body names it (a send without target is listed under '').
    const named = o.body === undefined || (o.body as { message?: { token?: unknown } }).message?.token === token;
    if (!o.path && !o.method && named) {
      const recs = fcmRecordsOf(sb, token);
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.status, r.status);
      assert.equal(recs[0]!.reason, r.errorCode ?? r.rpcStatus);
      assert.deepEqual(fcmRecordsOf(sb, token, false), [], 'not listed without include=rejected');
    }
  });
}

test('limits are inclusive: a message of exactly 4096 bytes and a topic message of 2048 are accepted', async () => {
  const token = registrationToken();
  const m = messageFor(token, (x) => { x.data = { a: 'x'.repeat(4096 - sizeWithout(x)) }; });
  assert.equal((await sendRaw(sb, session, accessToken, m)).status, 200);
  const t = await sendRaw(sb, session, accessToken, topicMessageOf(2048));
  assert.equal(t.status, 200, t.body);
  assert.equal(fcmRecordsOf(sb, '/topics/news', false).length, 1, 'a topic message is listed under /topics/<name>');
  const c = await sendRaw(sb, session, accessToken, { message: { condition: '\'a\' in topics && \'b\' in topics', notification: { title: 't' } } });
  assert.equal(c.status, 200, c.body);
});

test('validate_only checks without sending and answers Google\'s fake message id', async () => {
  const token = registrationToken();
  const a = await sendRaw(sb, session, accessToken, { validate_only: true, ...messageFor(token) });
  assert.equal(a.status, 200);
  assert.equal(a.json.name, `projects/${sb.sim.serviceAccount.project_id}/messages/fake_message_id`);
  assert.equal(fcmRecordsOf(sb, token)[0]!.reason, 'validate_only');
});

test('HTTP/1.1 works too, for the token endpoint and for sends, as Google\'s auth libraries use it', async () => {
  const form = new URLSearchParams({ grant_type: jwtBearer, assertion: await assertionFor(sb) }).toString();
  const g = await http1Request(sb, 'POST', '/oauth2/token', { 'content-type': 'application/x-www-form-urlencoded' }, form);
  assert.equal(g.status, 200, g.body);
  const token = registrationToken();
  const path = `/v1/projects/${sb.sim.serviceAccount.project_id}/messages:send`;
  const s = await http1Request(sb, 'POST', path, { 'content-type': 'application/json', authorization: `Bearer ${g.json.access_token}` }, JSON.stringify(messageFor(token)));
  assert.equal(s.status, 200, s.body);
  const [rec] = fcmRecordsOf(sb, token);
  assert.equal(rec!.headers[':method'], 'POST');
  assert.equal(rec!.headers[':path'], path);
  assert.equal(rec!.headers.authorization, `Bearer ${g.json.access_token}`);
});

test('the connection advertises Google\'s ~100 streams from the start', async () => {
  const s = await connectFcm(sb);
  try {
    assert.equal(s.remoteSettings.maxConcurrentStreams, defaultMaxConcurrentStreams);
  } finally {
    s.close();
  }
});

test('the project\'s token bucket answers 429 QUOTA_EXCEEDED with Retry-After, counts 4xx but not 429, and refills continuously', async () => {
  let clock = Date.now();
  const small = await startFcmTestSandbox({ clock: () => clock, messagesPerMinute: 3 }); // a token every 20 s
  const s = await connectFcm(small);
  try {
    const at = await accessTokenFor(small, s, { iat: Math.floor(clock / 1000) });
    assert.equal((await sendRaw(small, s, at, messageFor(registrationToken()))).status, 200);
    assert.equal((await sendRaw(small, s, at, messageFor(registrationToken(), (m) => { m.data = { from: 'x' }; }))).status, 400);
    assert.equal((await sendRaw(small, s, at, messageFor(registrationToken()))).status, 200);
    const token = registrationToken();
    const over = await sendRaw(small, s, at, messageFor(token));
    assert.equal(over.status, 429);
    assert.equal(over.headers['retry-after'], '20');
    assert.equal(over.json.error.status, 'RESOURCE_EXHAUSTED');
    assert.deepEqual(over.json.error.details.map((d: any) => d['@type']), [fcmErrorType, 'type.googleapis.com/google.rpc.QuotaFailure']);
    assert.equal(over.json.error.details[0].errorCode, 'QUOTA_EXCEEDED');
    assert.equal(fcmRecordsOf(small, token)[0]!.reason, 'QUOTA_EXCEEDED');
    clock += 10_000;
    const again = await sendRaw(small, s, at, messageFor(registrationToken()));
    assert.equal(again.status, 429, 'a 429 took no token, and half a token is not one');
    assert.equal(again.headers['retry-after'], '10');
    clock += 10_000;
    assert.equal((await sendRaw(small, s, at, messageFor(registrationToken()))).status, 200, 'not clock-aligned: 20 s after, one more');
  } finally {
    s.close();
    await small.close();
  }
});

test('faults come back through the client as outcomes: UNREGISTERED invalidates, 429 and 503 carry Retry-After', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const dead = registrationToken('dead');
    const mismatch = registrationToken('other');
    const slow = registrationToken('slow');
    const down = registrationToken('down');
    const broken = registrationToken('broken');
    sb.faults.add({ channel: 'fcm', target_prefix: dead, status: 404, reason: 'UNREGISTERED' });
    sb.faults.add({ channel: 'fcm', target_prefix: mismatch, status: 403 }); // SENDER_ID_MISMATCH by default
    sb.faults.add({ channel: 'fcm', target_prefix: down, status: 503, retry_after_s: 3 });
    sb.faults.add({ channel: 'fcm', target_prefix: broken, status: 500, reason: 'INTERNAL' });
    assert.deepEqual(await sender.send(account, request(dead)), { kind: 'token_invalid', reason: 'UNREGISTERED', status: 404 });
    assert.deepEqual(await sender.send(account, request(mismatch)), { kind: 'token_invalid', reason: 'SENDER_ID_MISMATCH', status: 403 });
    assert.deepEqual(await sender.send(account, request(down)), { kind: 'provider_down', reason: 'UNAVAILABLE', status: 503, retryAfterMs: 3_000 });
    assert.deepEqual(await sender.send(account, request(broken)), { kind: 'provider_down', reason: 'INTERNAL', status: 500, retryAfterMs: undefined });
    // The 429 last: it pauses the whole project in this sender.
    sb.faults.add({ channel: 'fcm', target_prefix: slow, status: 429, retry_after_s: 7 });
    assert.deepEqual(await sender.send(account, request(slow)), { kind: 'retry', reason: 'QUOTA_EXCEEDED', status: 429, retryAfterMs: 7_000 });
    const [rec] = fcmRecordsOf(sb, dead);
    assert.equal(rec!.status, 404);
    assert.equal(rec!.reason, 'UNREGISTERED');
  } finally {
    await sender.close();
  }
});

test('one access token serves every send, and a new one is granted when the injected clock passes its expiry', async () => {
  let clock = Date.now();
  const timed = await startFcmTestSandbox({ clock: () => clock });
  const sender = createFcmSender({ log: silentLogger(), ca: timed.caPem, clock: () => clock });
  const acct = { ...timed.sim.serviceAccount, endpoint: timed.sim.url };
  const authOf = (t: string) => fcmRecordsOf(timed, t)[0]!.headers.authorization;
  try {
    const first = Array.from({ length: 20 }, () => registrationToken());
    for (const o of await Promise.all(first.map((t) => sender.send(acct, request(t))))) assert.equal(o.kind, 'delivered');
    assert.equal(new Set(first.map(authOf)).size, 1, 'one grant for twenty concurrent sends');
    clock += 50 * 60_000;
    const later = registrationToken();
    assert.equal((await sender.send(acct, request(later))).kind, 'delivered');
    assert.equal(authOf(later), authOf(first[0]!), 'still the same token 50 minutes on');
    clock += 10 * 60_000; // 60 min: past 3599 s, and well past the client's 5-minute margin
    // The simulator refuses the old token now…
    const s = await connectFcm(timed);
    const stale = await sendRaw(timed, s, authOf(first[0]!)!.slice(7), messageFor(registrationToken()));
    s.close();
    assert.equal(stale.status, 401);
    assert.equal(stale.json.error.status, 'UNAUTHENTICATED');
    // …and the client, by its own clock, has already moved on to a new one.
    const renewed = registrationToken();
    assert.equal((await sender.send(acct, request(renewed))).kind, 'delivered');
    assert.notEqual(authOf(renewed), authOf(first[0]!));
    assert.deepEqual(fcmRecordsOf(timed, renewed).map((r) => r.status), [200], 'no 401 on the way');
  } finally {
    await sender.close();
    await timed.close();
  }
});

test('a 401 UNAUTHENTICATED makes the client grant a new token at once and send again', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const warm = registrationToken();
    assert.equal((await sender.send(account, request(warm))).kind, 'delivered');
    const token = registrationToken('unauth');
    sb.faults.add({ channel: 'fcm', target_prefix: token, status: 401, reason: 'UNAUTHENTICATED', count: 1 });
    assert.equal((await sender.send(account, request(token))).kind, 'delivered');
    const all = fcmRecordsOf(sb, token);
    assert.deepEqual(all.map((r) => r.reason ?? r.status), ['UNAUTHENTICATED', 200]);
    assert.notEqual(all[0]!.headers.authorization, all[1]!.headers.authorization, 'the retry carries a fresh token');
    // THIRD_PARTY_AUTH_ERROR is the project's APNs/web-push credentials: no refresh, no retry.
    const third = registrationToken('third');
    sb.faults.add({ channel: 'fcm', target_prefix: third, status: 401 });
    const o = await sender.send(account, request(third));
    assert.equal(o.kind, 'credentials_invalid');
    assert.equal(fcmRecordsOf(sb, third).length, 1);
  } finally {
    await sender.close();
  }
});

test('500 concurrent sends are all delivered over several connections of at most 100 streams', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem }); // defaults: 8 connections of 100 streams
  const before = sb.sim.connectionsAccepted;
  try {
    const tokens = Array.from({ length: 500 }, () => registrationToken('bulk'));
    const outcomes = await Promise.all(tokens.map((t) => sender.send(account, request(t))));
    assert.deepEqual(new Set(outcomes.map((o) => o.kind)), new Set(['delivered']));
    const opened = sb.sim.connectionsAccepted - before;
    assert.ok(opened >= 5 && opened <= 8, `${opened} connections`);
    const recs = tokens.map((t) => fcmRecordsOf(sb, t, false));
    for (const r of recs) assert.equal(r.length, 1);
    assert.equal(new Set(recs.map((r) => r[0]!.headers.authorization)).size, 1, 'one access token for all');
  } finally {
    await sender.close();
  }
});
