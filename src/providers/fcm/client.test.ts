/**
 * The FCM sender against the sandbox's FCM simulator: real TLS, real HTTP/2, real RS256 grants.
 * What the simulator itself checks is in src/sandbox/fcm.test.ts; here, what the sender does about
 * throttling, lost connections and broken credentials.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../observability/logger.js';
import { fcmRecordsOf, registrationToken, startFcmTestSandbox, type FcmTestSandbox } from '../../../test/support/sandbox-fcm.js';
import { createFcmSender, type FcmAccount, type FcmSendRequest } from './client.js';
import { buildFcmMessage } from '../../domain/fcm-message.js';

let sb: FcmTestSandbox;
let account: FcmAccount;
before(async () => {
  sb = await startFcmTestSandbox();
  account = { ...sb.sim.serviceAccount, endpoint: sb.sim.url };
});
after(async () => { await sb.close(); });

const request = (token: string): FcmSendRequest => {
  const r = buildFcmMessage(token, { title: 'Hi', body: 'there' });
  assert.ok(r.ok);
  return { body: r.body };
};

test('a 429 pauses the whole project, not only the message it refused, and sending resumes after Retry-After', async () => {
  let clock = Date.now();
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem, clock: () => clock });
  try {
    const refused = registrationToken('q');
    sb.faults.add({ channel: 'fcm', target_prefix: refused, status: 429, retry_after_s: 30, count: 1 });
    assert.deepEqual(await sender.send(account, request(refused)), { kind: 'retry', reason: 'QUOTA_EXCEEDED', status: 429, retryAfterMs: 30_000 });
    clock += 10_000;
    const other = registrationToken('q');
    const held = await sender.send(account, request(other));
    assert.equal(held.kind, 'retry');
    assert.equal(held.kind === 'retry' && held.retryAfterMs, 20_000);
    assert.equal(fcmRecordsOf(sb, other).length, 0, 'held in the client: FCM never saw it');
    // Another project of the same sender is not paused: its send reaches FCM (which refuses the project).
    const foreign = registrationToken('q');
    const f = await sender.send({ ...account, project_id: 'another-project' }, request(foreign));
    assert.equal(f.kind, 'credentials_invalid');
    assert.equal(fcmRecordsOf(sb, foreign).length, 1);
    clock += 20_000;
    assert.equal((await sender.send(account, request(other))).kind, 'delivered');
  } finally {
    await sender.close();
  }
});

test('the client-side rate limit spaces sends out, and hands back those it would hold too long', async () => {
  const clock = Date.now();
  // 10 a second with a burst of 2: the third waits 100 ms, the fourth would wait 200 ms.
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem, clock: () => clock, messagesPerMinute: 600, burst: 2, maxThrottleWaitMs: 150 });
  try {
    const tokens = Array.from({ length: 4 }, () => registrationToken('r'));
    const started = performance.now();
    const outcomes = await Promise.all(tokens.map((t) => sender.send(account, request(t))));
    assert.deepEqual(outcomes.slice(0, 3).map((o) => o.kind), ['delivered', 'delivered', 'delivered']);
    assert.ok(performance.now() - started >= 95, 'the third waited for its slot');
    const last = outcomes[3]!;
    assert.equal(last.kind, 'retry');
    assert.equal(last.kind === 'retry' && last.retryAfterMs, 200);
    assert.match(last.kind === 'retry' ? last.reason : '', /client-side rate limit/);
    assert.equal(fcmRecordsOf(sb, tokens[3]!).length, 0);
  } finally {
    await sender.close();
  }
});

test('a dropped connection is retried at once on a fresh one; dropped twice, it is provider_down', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    assert.equal((await sender.send(account, request(registrationToken()))).kind, 'delivered'); // one connection open
    const connections = sb.sim.connectionsAccepted;
    const once = registrationToken('d');
    sb.faults.add({ channel: 'fcm', target_prefix: once, drop_connection: true, count: 1 });
    const started = performance.now();
    assert.equal((await sender.send(account, request(once))).kind, 'delivered');
    assert.ok(performance.now() - started < 2_000, 'at once, not after a timeout');
    assert.deepEqual(fcmRecordsOf(sb, once).map((r) => r.status), [null, 200]);
    assert.equal(sb.sim.connectionsAccepted, connections + 1, 'the retry went over a fresh connection');
    const twice = registrationToken('d');
    sb.faults.add({ channel: 'fcm', target_prefix: twice, drop_connection: true, count: 2 });
    assert.equal((await sender.send(account, request(twice))).kind, 'provider_down');
    assert.equal(fcmRecordsOf(sb, twice).length, 2, 'one retry only');
  } finally {
    await sender.close();
  }
});

test('a send without an answer in time is retried once, like a lost connection', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem, requestTimeoutMs: 150 });
  try {
    const token = registrationToken('t');
    sb.faults.add({ channel: 'fcm', target_prefix: token, latency_ms: 400, count: 1 });
    assert.equal((await sender.send(account, request(token))).kind, 'delivered');
  } finally {
    await sender.close();
  }
});

test('a key the token endpoint refuses is credentials_invalid, and nothing is sent', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const token = registrationToken('k');
    const o = await sender.send({ ...account, private_key: other }, request(token));
    assert.equal(o.kind, 'credentials_invalid');
    assert.match(o.kind === 'credentials_invalid' ? o.reason : '', /invalid_grant/);
    assert.equal(o.kind === 'credentials_invalid' && o.status, 400);
    assert.equal(fcmRecordsOf(sb, token).length, 0);
  } finally {
    await sender.close();
  }
});

test('an unreachable FCM or token endpoint is provider_down', async () => {
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const noFcm = await sender.send({ ...account, endpoint: 'https://127.0.0.1:1' }, request(registrationToken()));
    assert.equal(noFcm.kind, 'provider_down');
    const noOAuth = await sender.send({ ...account, client_email: 'x@y.iam.gserviceaccount.com', token_uri: 'https://127.0.0.1:1/token' }, request(registrationToken()));
    assert.equal(noOAuth.kind, 'provider_down');
    assert.match(noOAuth.kind === 'provider_down' ? noOAuth.reason : '', /OAuth2 access token/);
  } finally {
    await sender.close();
  }
});

test('a request HTTP/2 refuses (a bearer token with a NUL) is that send\'s rejected, never provider_down', async () => {
  // A token endpoint (the account's token_uri) answering with a token no header can carry.
  const oauth = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'ya29.a\u0000b', expires_in: 3599, token_type: 'Bearer' }));
  });
  await new Promise<void>((r) => oauth.listen(0, '127.0.0.1', r));
  const sender = createFcmSender({ log: silentLogger(), ca: sb.caPem });
  try {
    const broken = { ...account, client_email: 'broken@p.iam.gserviceaccount.com', token_uri: `http://127.0.0.1:${(oauth.address() as AddressInfo).port}/token` };
    const t = registrationToken();
    const o = await sender.send(broken, request(t));
    assert.equal(o.kind, 'rejected', JSON.stringify(o));
    assert.equal(fcmRecordsOf(sb, t).length, 0);
    const good = registrationToken();
    assert.equal((await sender.send(account, request(good))).kind, 'delivered', 'the shared connections still send');
  } finally {
    await sender.close();
    await new Promise<void>((r) => oauth.close(() => r()));
  }
});
