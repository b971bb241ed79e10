/**
 * The Web Push sender against a push service that speaks only HTTP/1.1 (ALPN offers no h2): the
 * sender must notice and keep sockets alive per origin instead. The HTTP/2 path, VAPID and the
 * checklist are proven against the sandbox's simulator in src/sandbox/webpush.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createECDH, randomBytes } from 'node:crypto';
import { silentLogger } from '../../observability/logger.js';
import { createTlsIdentity } from '../../sandbox/credentials.js';
import { createWebPushSender, type WebPushSendRequest } from './client.js';
import { generateVapidKeys } from './vapid.js';
import { decryptPayload } from './encrypt.js';

interface Seen {
  req: IncomingMessage;
  body: Buffer;
}

let server: https.Server;
let origin: string;
let ca: string;
let connections = 0;
const seen: Seen[] = [];
/** What the server does with the next requests; answers 201 when empty. */
const script: ((res: ServerResponse, req: IncomingMessage) => void)[] = [];

before(async () => {
  const tls = await createTlsIdentity('127.0.0.1');
  ca = tls.certPem;
  server = https.createServer({ key: tls.keyPem, cert: tls.certPem, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ req, body: Buffer.concat(chunks) });
      const step = script.shift();
      if (step) return step(res, req);
      res.writeHead(201, { location: `${origin}/m/${seen.length}` }).end();
    });
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const vapid = { ...generateVapidKeys(), subject: 'https://example.com/contact' };
function subscriber() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return { ecdh, authSecret, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') } };
}
const request = (s: ReturnType<typeof subscriber>, payload: string): WebPushSendRequest => ({
  subscription: { endpoint: `${origin}/wpush/v2/abc?x=1`, keys: s.keys }, payload, ttlSeconds: 0, urgency: 'low',
});

test('an HTTP/1.1 push service gets the same request, on one kept-alive connection', async () => {
  const sender = createWebPushSender({ log: silentLogger(), ca, maxConnectionsPerOrigin: 1 });
  try {
    seen.length = 0;
    const before = connections;
    const s = subscriber();
    const a = await sender.send(vapid, request(s, 'one'));
    const b = await sender.send(vapid, request(s, 'two'));
    assert.deepEqual(a, { kind: 'delivered', providerId: `${origin}/m/1` });
    assert.deepEqual(b, { kind: 'delivered', providerId: `${origin}/m/2` });
    // One TLS connection for the ALPN question, one carrying both pushes.
    assert.equal(connections - before, 2);
    const [first] = seen;
    assert.equal(first!.req.httpVersion, '1.1');
    assert.equal(first!.req.method, 'POST');
    assert.equal(first!.req.url, '/wpush/v2/abc?x=1');
    assert.equal(first!.req.headers.ttl, '0', 'TTL is sent even when 0 (RFC 8030 §5.2)');
    assert.equal(first!.req.headers.urgency, 'low');
    assert.equal(first!.req.headers.topic, undefined);
    assert.equal(first!.req.headers['content-encoding'], 'aes128gcm');
    assert.equal(first!.req.headers['content-length'], String(first!.body.length));
    assert.equal(first!.req.headers['transfer-encoding'], undefined, 'a sized body, not chunked');
    assert.match(String(first!.req.headers.authorization), /^vapid t=.+, k=/);
    assert.equal(decryptPayload(first!.body, s).toString(), 'one');
    assert.equal(decryptPayload(seen[1]!.body, s).toString(), 'two');
  } finally {
    await sender.close();
  }
});

test('over HTTP/1.1 too: error answers become outcomes, and a cut connection is retried once', async () => {
  const sender = createWebPushSender({ log: silentLogger(), ca });
  try {
    const s = subscriber();
    script.push((res) => res.writeHead(410, { 'content-type': 'application/json' })
      .end('{"code":410,"errno":106,"error":"Gone","message":"Request did not validate subscription is gone"}'));
    assert.deepEqual(await sender.send(vapid, request(s, 'x')),
      { kind: 'token_invalid', reason: 'Request did not validate subscription is gone', status: 410 });

    script.push((res) => res.writeHead(429, { 'retry-after': '12' }).end());
    assert.deepEqual(await sender.send(vapid, request(s, 'x')), { kind: 'retry', reason: 'HTTP 429', status: 429, retryAfterMs: 12_000 });

    seen.length = 0;
    script.push((_res, req) => req.socket.destroy());
    assert.equal((await sender.send(vapid, request(s, 'again'))).kind, 'delivered');
    assert.equal(seen.length, 2, 'the push was sent twice: cut, then answered');

    script.push((_res, req) => req.socket.destroy(), (_res, req) => req.socket.destroy());
    assert.equal((await sender.send(vapid, request(s, 'x'))).kind, 'provider_down', 'no second retry');
  } finally {
    await sender.close();
  }
});

test('a push service that never answers is provider_down after the request timeout', async () => {
  const sender = createWebPushSender({ log: silentLogger(), ca, requestTimeoutMs: 200 });
  try {
    script.push(() => undefined, () => undefined);
    const t0 = performance.now();
    const o = await sender.send(vapid, request(subscriber(), 'x'));
    assert.equal(o.kind, 'provider_down');
    assert.ok(performance.now() - t0 >= 400, 'two attempts, each given its timeout');
  } finally {
    await sender.close();
  }
});
