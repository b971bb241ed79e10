/**
 * The Web Push simulator over real sockets, driven by Herald's own Web Push sender: TLS trusting only
 * the sandbox's certificate, HTTP/2 chosen by ALPN, RFC 8291 bodies that the subscriber (made up
 * here, as docs/sandbox.md describes) decrypts with http_ece, RFC 8292 VAPID verified by the
 * simulator. Each refusal (RFC 8030 §5, RFC 8292 §4) is also sent raw, to see its status and text.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import https from 'node:https';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createECDH, createPrivateKey, randomBytes, type ECDH } from 'node:crypto';
import { SignJWT } from 'jose';
import { silentLogger } from '../observability/logger.js';
import { createTlsIdentity, type TlsIdentity } from './credentials.js';
import { createDeliveryRecords, type DeliveryRecords, type ListedRecord } from './records.js';
import { createFaults, type Faults } from './faults.js';
import { startWebPushSimulator, type WebPushSimulator } from './webpush.js';
import { createWebPushSender, type PushSubscription, type WebPushSendRequest, type WebPushSender } from '../providers/webpush/client.js';
import { generateVapidKeys, vapidRenewBeforeMs, vapidTokenLifetimeMs, type VapidCredentials } from '../providers/webpush/vapid.js';
import { decryptPayload, encryptPayload, maxPlaintextBytes } from '../providers/webpush/encrypt.js';

const ece = createRequire(import.meta.url)('http_ece') as { decrypt(buf: Buffer, params: Record<string, unknown>): Buffer };
const webpush = createRequire(import.meta.url)('web-push') as {
  sendNotification(sub: PushSubscription, payload: string, o: Record<string, unknown>): Promise<{ statusCode: number; headers: Record<string, string> }>;
};

let tls: TlsIdentity;
let records: DeliveryRecords;
let faults: Faults;
let sim: WebPushSimulator;
let session: ClientHttp2Session;
/** The simulator's and the sender's clock: tests move it to age VAPID tokens. */
let now = Date.now();
const clock = () => now;
const vapid: VapidCredentials = { ...generateVapidKeys(), subject: 'mailto:ops@example.com' };

before(async () => {
  // Started as src/sandbox/index.ts starts the APNs simulator.
  tls = await createTlsIdentity('127.0.0.1');
  records = createDeliveryRecords();
  faults = createFaults();
  sim = await startWebPushSimulator({ host: '127.0.0.1', tls, records, faults, clock, log: silentLogger() });
  session = http2.connect(sim.url, { ca: tls.certPem });
  session.on('error', () => undefined);
  await once(session, 'remoteSettings');
  receiver = subscriber('raw');
});
after(async () => {
  session.close();
  await sim.close();
});

interface Subscriber {
  id: string;
  ecdh: ECDH;
  authSecret: Buffer;
  subscription: PushSubscription;
}

let n = 0;
/** A made-up subscription: an id of our choosing and a fresh key pair and auth secret (docs/sandbox.md). */
function subscriber(prefix = 'sub'): Subscriber {
  const id = `${prefix}-${++n}-${randomBytes(6).toString('base64url')}`;
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    id, ecdh, authSecret,
    subscription: { endpoint: `${sim.url}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') } },
  };
}

const request = (s: Subscriber, payload = 'hello', extra: Partial<WebPushSendRequest> = {}): WebPushSendRequest => ({
  subscription: s.subscription, payload, ttlSeconds: 3600, urgency: 'normal', ...extra,
});

const sender = (): WebPushSender => createWebPushSender({ log: silentLogger(), ca: tls.certPem, clock });

const recordsOf = (target: string, includeRejected = true): ListedRecord[] =>
  records.list({ channel: 'webpush', target, limit: 1000, includeRejected });

async function withSender(fn: (s: WebPushSender) => Promise<void>): Promise<void> {
  const s = sender();
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

test('a push sent by the client is accepted with 201 and Location, recorded raw, and decrypts with http_ece', async () => {
  await withSender(async (client) => {
    const sub = subscriber();
    const payload = JSON.stringify({ title: 'Hi', body: 'there', emoji: '🍉' });
    const outcome = await client.send(vapid, request(sub, payload, { ttlSeconds: 60, urgency: 'high', topic: 'greeting' }));
    assert.equal(outcome.kind, 'delivered');
    assert.match(String(outcome.kind === 'delivered' && outcome.providerId), new RegExp(`^${sim.url}/message/[0-9a-f-]{36}$`));

    const [rec, ...more] = recordsOf(sub.id, false);
    assert.equal(more.length, 0);
    assert.equal(rec!.channel, 'webpush');
    assert.equal(rec!.target, sub.id);
    assert.equal(rec!.status, 201);
    assert.equal(rec!.reason, null);
    assert.equal(rec!.headers[':method'], 'POST');
    assert.equal(rec!.headers[':path'], `/push/${sub.id}`);
    assert.equal(rec!.headers[':scheme'], 'https');
    assert.equal(rec!.headers.ttl, '60');
    assert.equal(rec!.headers.urgency, 'high');
    assert.equal(rec!.headers.topic, 'greeting');
    assert.equal(rec!.headers['content-encoding'], 'aes128gcm');
    assert.equal(rec!.headers['content-type'], 'application/octet-stream');
    assert.match(rec!.headers.authorization!, new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));

    // The subscriber's side: only its private key and auth secret open the recorded body.
    const body = Buffer.from(rec!.body_base64, 'base64');
    assert.equal(rec!.headers['content-length'], String(body.length));
    const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.authSecret.toString('base64url') });
    assert.equal(plain.toString('utf8'), payload);
    assert.equal(decryptPayload(body, sub).toString('utf8'), payload);
  });
});

test('400 concurrent pushes are delivered with one VAPID token; an empty payload still encrypts', async () => {
  await withSender(async (client) => {
    const subs = Array.from({ length: 400 }, () => subscriber('many'));
    const outcomes = await Promise.all(subs.map((s, i) => client.send(vapid, request(s, i === 0 ? '' : `message ${i}`))));
    assert.deepEqual(new Set(outcomes.map((o) => o.kind)), new Set(['delivered']));
    const seen = subs.slice(0, 20).map((s) => recordsOf(s.id));
    for (const r of seen) assert.equal(r.length, 1);
    assert.equal(new Set(seen.flat().map((r) => r.headers.authorization)).size, 1);
    assert.equal(decryptPayload(Buffer.from(seen[0]![0]!.body_base64, 'base64'), subs[0]!).length, 0);
  });
});

test('the VAPID token is reused across sends and replaced before it expires; an expired one is refused', async () => {
  const start = Date.now();
  now = start;
  try {
    await withSender(async (client) => {
      const a = subscriber('vapid');
      const b = subscriber('vapid');
      assert.equal((await client.send(vapid, request(a))).kind, 'delivered');
      now = start + 60_000;
      assert.equal((await client.send(vapid, request(b))).kind, 'delivered');
      const first = recordsOf(a.id)[0]!.headers.authorization!;
      assert.equal(recordsOf(b.id)[0]!.headers.authorization, first, 'one token for both sends');

      // Past the token's renewal point (an hour before exp), the next send carries a new token.
      now = start + vapidTokenLifetimeMs - vapidRenewBeforeMs + 1_000;
      const c = subscriber('vapid');
      assert.equal((await client.send(vapid, request(c))).kind, 'delivered');
      const second = recordsOf(c.id)[0]!.headers.authorization!;
      assert.notEqual(second, first);

      // Past the first token's exp, the simulator refuses it, and the sender's current token still passes.
      now = start + vapidTokenLifetimeMs + 1_000;
      const late = await rawPush({ authorization: first });
      assert.deepEqual([late.status, late.body], [403, 'token has expired']);
      assert.equal((await client.send(vapid, request(subscriber('vapid')))).kind, 'delivered');

      // Long past it, a fresh token is minted again.
      now = start + 2 * vapidTokenLifetimeMs;
      const d = subscriber('vapid');
      assert.equal((await client.send(vapid, request(d))).kind, 'delivered');
      assert.notEqual(recordsOf(d.id)[0]!.headers.authorization, second);
    });
  } finally {
    now = Date.now();
  }
});

test('faults come back as outcomes: 404 and 410 invalidate, 413 is rejected, 429 and 503 carry Retry-After', async () => {
  await withSender(async (client) => {
    const gone = subscriber('f410');
    const missing = subscriber('f404');
    const big = subscriber('f413');
    const slow = subscriber('f429');
    const down = subscriber('f503');
    faults.add({ channel: 'webpush', target_prefix: gone.id, status: 410 });
    faults.add({ channel: 'webpush', target_prefix: missing.id, status: 404, reason: 'subscription expired' });
    faults.add({ channel: 'webpush', target_prefix: big.id, status: 413 });
    faults.add({ channel: 'webpush', target_prefix: slow.id, status: 429, retry_after_s: 7 });
    faults.add({ channel: 'webpush', target_prefix: down.id, status: 503, retry_after_s: 3 });

    assert.deepEqual(await client.send(vapid, request(gone)),
      { kind: 'token_invalid', reason: 'push subscription has unsubscribed or expired', status: 410 });
    assert.deepEqual(await client.send(vapid, request(missing)), { kind: 'token_invalid', reason: 'subscription expired', status: 404 });
    assert.deepEqual(await client.send(vapid, request(big)), { kind: 'rejected', reason: 'payload too large: at most 4096 bytes', status: 413 });
    assert.deepEqual(await client.send(vapid, request(slow)), { kind: 'retry', reason: 'too many requests', status: 429, retryAfterMs: 7_000 });
    assert.deepEqual(await client.send(vapid, request(down)),
      { kind: 'provider_down', reason: 'service unavailable', status: 503, retryAfterMs: 3_000 });
    assert.deepEqual(recordsOf(gone.id).map((r) => [r.status, r.reason]), [[410, 'push subscription has unsubscribed or expired']]);
    // After a 503, the next push still goes through.
    assert.equal((await client.send(vapid, request(subscriber()))).kind, 'delivered');
  });
});

test('a dropped connection is retried once at once on a fresh one; a latency fault only delays', async () => {
  await withSender(async (client) => {
    const s = subscriber('drop');
    faults.add({ channel: 'webpush', target_prefix: s.id, drop_connection: true, count: 1 });
    assert.equal((await client.send(vapid, request(s, 'again'))).kind, 'delivered');
    const all = recordsOf(s.id);
    assert.deepEqual(all.map((r) => [r.status, r.reason]), [[null, 'ConnectionDropped'], [201, null]]);
    assert.equal(decryptPayload(Buffer.from(all[1]!.body_base64, 'base64'), s).toString(), 'again');

    const twice = subscriber('drop2');
    faults.add({ channel: 'webpush', target_prefix: twice.id, drop_connection: true, count: 2 });
    assert.equal((await client.send(vapid, request(twice))).kind, 'provider_down');

    const slow = subscriber('late');
    faults.add({ channel: 'webpush', target_prefix: slow.id, latency_ms: 150, count: 1 });
    const t0 = performance.now();
    assert.equal((await client.send(vapid, request(slow))).kind, 'delivered');
    assert.ok(performance.now() - t0 >= 140);
  });
});

test('what the sender cannot send is an outcome, with nothing sent', async () => {
  await withSender(async (client) => {
    const s = subscriber('local');
    const broken = { ...s.subscription, keys: { ...s.subscription.keys, auth: 'c2hvcnQ' } };
    assert.equal((await client.send(vapid, { ...request(s), subscription: broken })).kind, 'token_invalid');
    assert.equal((await client.send(vapid, { ...request(s), subscription: { ...s.subscription, endpoint: 'http://push.example/x' } })).kind, 'token_invalid');
    assert.equal((await client.send(vapid, request(s, 'x'.repeat(maxPlaintextBytes + 1)))).kind, 'rejected');
    assert.equal((await client.send(vapid, request(s, 'x', { ttlSeconds: -1 }))).kind, 'rejected');
    assert.equal((await client.send(vapid, request(s, 'x', { topic: 'not a topic' }))).kind, 'rejected');
    assert.equal((await client.send(vapid, request(s, 'x', { urgency: 'urgent' as 'high' }))).kind, 'rejected');
    const wrongHalf = { ...vapid, publicKey: generateVapidKeys().publicKey };
    assert.equal((await client.send(wrongHalf, request(s))).kind, 'credentials_invalid');
    assert.deepEqual(recordsOf(s.id), []);
    assert.equal((await client.send(vapid, request(s, 'x'.repeat(maxPlaintextBytes)))).kind, 'delivered', 'the largest payload fits');
    const unreachable = { ...s.subscription, endpoint: 'https://127.0.0.1:1/push/x' };
    assert.equal((await client.send(vapid, { ...request(s), subscription: unreachable })).kind, 'provider_down');
  });
});

// ---- The checklist, one raw request per refusal ----

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Signs a VAPID JWT with whatever claims and key a test wants. */
async function jwtWith(claims: Record<string, unknown>, privateKeyPem = vapid.privateKeyPem, alg = 'ES256'): Promise<string> {
  const key = alg === 'HS256' ? new Uint8Array(32) : createPrivateKey(privateKeyPem);
  return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', alg }).sign(key);
}
const goodClaims = () => ({ aud: sim.url, exp: Math.floor(now / 1000) + 3600, sub: 'mailto:ops@example.com' });
const auth = async (claims: Record<string, unknown> = goodClaims(), k = vapid.publicKey, pem?: string) => `vapid t=${await jwtWith(claims, pem)}, k=${k}`;

/** The subscription raw pushes go to, unless they name another id. */
let receiver: Subscriber;
const validBody = () => encryptPayload(receiver.subscription.keys, 'raw push');

interface RawOptions {
  /** Overrides the headers of a valid push; `undefined` removes one, an array repeats it. */
  headers?: Record<string, string | string[] | undefined>;
  authorization?: string | undefined;
  body?: Buffer;
  id?: string;
}

/** One push over the test's own HTTP/2 connection; the defaults make a valid one. */
async function rawPush(o: RawOptions = {}): Promise<RawAnswer> {
  const headers: OutgoingHttpHeaders = {
    ':method': 'POST',
    ':path': `/push/${o.id ?? receiver.id}`,
    ttl: '60',
    urgency: 'normal',
    'content-encoding': 'aes128gcm',
    'content-type': 'application/octet-stream',
    authorization: 'authorization' in o ? o.authorization : await auth(),
  };
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  if (headers.authorization === undefined) delete headers.authorization;
  const stream = session.request(headers);
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const answered = new Promise<IncomingHttpHeaders>((resolve, reject) => {
    stream.on('response', resolve);
    stream.on('error', reject);
    stream.on('close', () => reject(new Error(`stream closed without an answer (rst ${stream.rstCode})`)));
  });
  stream.setTimeout(5_000, () => stream.close(http2.constants.NGHTTP2_CANCEL)); // fail, never hang
  stream.end(o.body ?? validBody());
  const h = await answered;
  if (!stream.readableEnded) await once(stream, 'end');
  return { status: Number(h[':status']), headers: h, body: Buffer.concat(chunks).toString('utf8') };
}

test('a valid raw push gets 201, Location and the TTL kept; a push without payload needs no encoding', async () => {
  const a = await rawPush({ headers: { ttl: '99999999' } });
  assert.equal(a.status, 201, a.body);
  assert.match(String(a.headers.location), /\/message\//);
  assert.equal(a.headers.ttl, '2419200', 'a longer TTL is capped, and the answer says so (RFC 8030 §5.2)');
  const empty = await rawPush({ body: Buffer.alloc(0), headers: { 'content-encoding': undefined, 'content-type': undefined } });
  assert.equal(empty.status, 201, empty.body);
  const upper = await rawPush({ headers: { 'content-encoding': 'AES128GCM' } });
  assert.equal(upper.status, 201, 'content codings are case-insensitive (RFC 9110 §8.4.1)');
  for (const id of ['a', 'A-z_0.9~', 'x'.repeat(300)]) assert.equal((await rawPush({ id })).status, 201, id);
});

/** A valid body with bytes changed: `edit` gets the whole body to modify in place. */
const bodyWith = (edit: (b: Buffer) => void, plaintext = 'raw push') => {
  const b = encryptPayload(receiver.subscription.keys, plaintext);
  edit(b);
  return b;
};
const offCurveKey = () => {
  const k = createECDH('prime256v1');
  k.generateKeys();
  const p = k.getPublicKey();
  p[64] = p[64]! ^ 1;
  return p;
};

const refusals: { name: string; status: number; reason: string | RegExp; push: () => Promise<RawOptions> }[] = [
  { name: 'a method other than POST', status: 405, reason: /method not allowed/, push: async () => ({ headers: { ':method': 'PUT' } }) },
  { name: 'a path outside /push/', status: 404, reason: /no push subscription/, push: async () => ({ headers: { ':path': '/send/abc' } }) },
  { name: 'no subscription id', status: 404, reason: /no push subscription/, push: async () => ({ id: '' }) },
  { name: 'an id with characters that are not URL-safe', status: 404, reason: /no push subscription/, push: async () => ({ id: `a%2Fb-${++n}` }) },
  { name: 'no TTL', status: 400, reason: 'TTL header is missing', push: async () => ({ headers: { ttl: undefined } }) },
  { name: 'a TTL that is not digits', status: 400, reason: /^TTL header must be/, push: async () => ({ headers: { ttl: '-5' } }) },
  { name: 'a TTL given twice', status: 400, reason: 'a header field is repeated', push: async () => ({ headers: { ttl: ['60', '60'] } }) },
  { name: 'an unknown Urgency', status: 400, reason: /^Urgency header/, push: async () => ({ headers: { urgency: 'urgent' } }) },
  { name: 'two Urgency values in one field', status: 400, reason: /^Urgency header/, push: async () => ({ headers: { urgency: 'low, high' } }) },
  { name: 'a repeated Urgency', status: 400, reason: 'a header field is repeated', push: async () => ({ headers: { urgency: ['low', 'high'] } }) },
  { name: 'a Topic of 33 characters', status: 400, reason: /^Topic header/, push: async () => ({ headers: { topic: 'a'.repeat(33) } }) },
  { name: 'a Topic outside the base64url alphabet', status: 400, reason: /^Topic header/, push: async () => ({ headers: { topic: 'a+b/c=' } }) },
  { name: 'Content-Encoding aesgcm (the old draft)', status: 400, reason: 'Content-Encoding must be aes128gcm', push: async () => ({ headers: { 'content-encoding': 'aesgcm' } }) },
  { name: 'Content-Encoding with another coding', status: 400, reason: 'Content-Encoding must be aes128gcm', push: async () => ({ headers: { 'content-encoding': 'aes128gcm, gzip' } }) },
  { name: 'a body without Content-Encoding', status: 400, reason: /needs Content-Encoding/, push: async () => ({ headers: { 'content-encoding': undefined } }) },
  { name: 'a body of 4097 bytes', status: 413, reason: /payload too large/, push: async () => ({ body: Buffer.concat([validBody(), Buffer.alloc(4097 - validBody().length)]) }) },
  { name: 'a body shorter than the header', status: 400, reason: /shorter than its aes128gcm header/, push: async () => ({ body: validBody().subarray(0, 50) }) },
  { name: 'an idlen of 64', status: 400, reason: /idlen must be 65/, push: async () => ({ body: bodyWith((b) => { b[20] = 64; }) }) },
  { name: 'an rs of 17', status: 400, reason: /rs must be at least 18/, push: async () => ({ body: bodyWith((b) => b.writeUInt32BE(17, 16)) }) },
  { name: 'a keyid that is compressed-form garbage', status: 400, reason: /keyid must be an uncompressed P-256 point/, push: async () => ({ body: bodyWith((b) => { b[21] = 0x02; }) }) },
  { name: 'a keyid off the curve', status: 400, reason: /keyid must be an uncompressed P-256 point/, push: async () => ({ body: bodyWith((b) => offCurveKey().copy(b, 21)) }) },
  { name: 'a record without room for a delimiter', status: 400, reason: /too short to hold a padding delimiter/, push: async () => ({ body: validBody().subarray(0, 86 + 16) }) },
  { name: 'two records (rs smaller than the record)', status: 400, reason: /more than one record/, push: async () => ({ body: bodyWith((b) => b.writeUInt32BE(100, 16), 'x'.repeat(200)) }) },
  { name: 'no Authorization', status: 401, reason: 'missing vapid authorization', push: async () => ({ authorization: undefined }) },
  { name: 'the legacy WebPush scheme', status: 401, reason: 'missing vapid authorization', push: async () => ({ authorization: `WebPush ${await jwtWith(goodClaims())}` }) },
  { name: 'vapid without k', status: 403, reason: 'vapid authorization needs t and k', push: async () => ({ authorization: `vapid t=${await jwtWith(goodClaims())}` }) },
  {
    name: 'a compressed k', status: 403, reason: 'public key must be in uncompressed form. (First byte needs to be 0x04)',
    push: async () => ({ authorization: await auth(goodClaims(), compressedVapidKey()) }),
  },
  { name: 'a k off the curve', status: 403, reason: 'VAPID public key must be on the P-256 curve', push: async () => ({ authorization: await auth(goodClaims(), offCurveKey().toString('base64url')) }) },
  { name: 'a JWT signed by another key', status: 403, reason: 'invalid JWT provided', push: async () => ({ authorization: await auth(goodClaims(), vapid.publicKey, generateVapidKeys().privateKeyPem) }) },
  { name: 'a JWT signed with HS256', status: 403, reason: 'invalid JWT provided', push: async () => ({ authorization: `vapid t=${await jwtWith(goodClaims(), undefined, 'HS256')}, k=${vapid.publicKey}` }) },
  { name: 'a JWT that is not a JWT', status: 403, reason: 'invalid JWT provided', push: async () => ({ authorization: `vapid t=abc.def, k=${vapid.publicKey}` }) },
  { name: 'no aud', status: 403, reason: 'invalid aud claim', push: async () => ({ authorization: await auth({ ...goodClaims(), aud: undefined }) }) },
  {
    name: 'an aud of another origin', status: 403, reason: 'aud claim in the token MUST include the origin of the push resource URL',
    push: async () => ({ authorization: await auth({ ...goodClaims(), aud: 'https://push.example.net' }) }),
  },
  { name: 'no exp', status: 403, reason: 'exp claim is missing', push: async () => ({ authorization: await auth({ ...goodClaims(), exp: undefined }) }) },
  { name: 'an exp in the past', status: 403, reason: 'token has expired', push: async () => ({ authorization: await auth({ ...goodClaims(), exp: Math.floor(now / 1000) - 1 }) }) },
  {
    name: 'an exp 25 hours ahead', status: 403, reason: 'exp claim MUST NOT be more than 24 hours from the time of the request',
    push: async () => ({ authorization: await auth({ ...goodClaims(), exp: Math.floor(now / 1000) + 25 * 3600 }) }),
  },
  { name: 'no sub', status: 403, reason: /sub claim/, push: async () => ({ authorization: await auth({ ...goodClaims(), sub: undefined }) }) },
  { name: 'a sub that is no contact', status: 403, reason: /sub claim/, push: async () => ({ authorization: await auth({ ...goodClaims(), sub: 'ops@example.com' }) }) },
  {
    name: 'k equal to the keyid', status: 400, reason: /must not be the message encryption key/,
    push: async () => ({ body: encryptPayload(receiver.subscription.keys, 'x', { asPrivateKey: vapidPrivateScalar() }) }),
  },
];

/** The VAPID key's public point in compressed form (33 bytes, 0x02/0x03 first). */
function compressedVapidKey(): string {
  const e = createECDH('prime256v1');
  e.setPrivateKey(vapidPrivateScalar());
  return e.getPublicKey('base64url', 'compressed');
}
/** The VAPID private key as the raw 32-byte scalar, to encrypt a message with it as the ephemeral key. */
function vapidPrivateScalar(): Buffer {
  return Buffer.from(createPrivateKey(vapid.privateKeyPem).export({ format: 'jwk' }).d!, 'base64url');
}

for (const r of refusals) {
  test(`refused: ${r.name} → ${r.status}`, async () => {
    const id = `refused-${++n}`;
    const opts = { id, ...(await r.push()) };
    const a = await rawPush(opts);
    assert.equal(a.status, r.status, a.body);
    if (typeof r.reason === 'string') assert.equal(a.body, r.reason);
    else assert.match(a.body, r.reason);
    assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8');
    // Recorded under the id of its path, refusals included ('' when the path names none).
    const path = String(opts.headers?.[':path'] ?? `/push/${opts.id}`);
    const target = path.startsWith('/push/') ? path.slice('/push/'.length) : '';
    if (target) {
      const recorded = recordsOf(target);
      assert.deepEqual(recorded.map((x) => [x.status, x.reason]), [[r.status, a.body]]);
      assert.deepEqual(recordsOf(target, false), [], 'a refused push is listed only with include=rejected');
    }
  });
}

test('the vapid scheme is case-insensitive and its parameters come in any order, quoted or not (RFC 8292 §3)', async () => {
  const jwt = await jwtWith(goodClaims());
  for (const authorization of [`VAPID k=${vapid.publicKey}, t=${jwt}`, `vapid t="${jwt}",k="${vapid.publicKey}"`]) {
    const a = await rawPush({ authorization });
    assert.equal(a.status, 201, `${authorization.slice(0, 12)}…: ${a.body}`);
  }
});

test('a refused VAPID token is refused every time it comes back, and a good token after it passes', async () => {
  const bad = await auth({ ...goodClaims(), aud: 'https://elsewhere.example' });
  for (let i = 0; i < 3; i++) assert.equal((await rawPush({ authorization: bad })).status, 403);
  assert.equal((await rawPush()).status, 201);
});

test('a body sent raw is recorded byte for byte: http_ece decrypts it with the subscriber\'s key', async () => {
  const s = subscriber('ece');
  const a = await rawPush({ id: s.id, body: encryptPayload(s.subscription.keys, 'via raw') });
  assert.equal(a.status, 201);
  const body = Buffer.from(recordsOf(s.id)[0]!.body_base64, 'base64');
  assert.equal(ece.decrypt(body, { version: 'aes128gcm', privateKey: s.ecdh, authSecret: s.authSecret }).toString(), 'via raw');
});

// ---- HTTP/1.1, as the web-push package speaks it ----

test('HTTP/1.1 works too: a push from the web-push package is accepted, recorded raw, and decrypts', async () => {
  const s = subscriber('http1');
  // web-push takes the raw private scalar, not a PEM.
  const privateKey = createPrivateKey(vapid.privateKeyPem).export({ format: 'jwk' }).d!;
  const agent = new https.Agent({ keepAlive: true, ca: tls.certPem });
  try {
    const r = await webpush.sendNotification(s.subscription, 'over HTTP/1.1',
      { vapidDetails: { subject: vapid.subject, publicKey: vapid.publicKey, privateKey }, TTL: 60, agent });
    assert.equal(r.statusCode, 201);
    assert.match(r.headers.location!, new RegExp(`^${sim.url}/message/[0-9a-f-]{36}$`));
  } finally {
    agent.destroy();
  }
  const [rec, ...more] = recordsOf(s.id, false);
  assert.equal(more.length, 0);
  assert.deepEqual([rec!.status, rec!.headers[':method'], rec!.headers[':path'], rec!.headers.ttl], [201, 'POST', `/push/${s.id}`, '60']);
  assert.match(rec!.headers.authorization!, new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));
  const body = Buffer.from(rec!.body_base64, 'base64');
  assert.equal(ece.decrypt(body, { version: 'aes128gcm', privateKey: s.ecdh, authSecret: s.authSecret.toString('base64url') }).toString(), 'over HTTP/1.1');
});

test('over HTTP/1.1 the checklist answers as over HTTP/2: a push without TTL gets 400 and the reason', async () => {
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    // ALPNProtocols reaches tls.connect; Node's RequestOptions typing leaves it out.
    const options = {
      method: 'POST', ca: tls.certPem, agent: false, ALPNProtocols: ['http/1.1'],
      headers: { 'content-encoding': 'aes128gcm' },
    } as https.RequestOptions;
    const req = https.request(`${sim.url}/push/${receiver.id}`, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.end(validBody());
  });
  assert.deepEqual(answer, { status: 400, body: 'TTL header is missing' });
});
