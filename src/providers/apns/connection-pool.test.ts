import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createTlsIdentity } from '../../sandbox/credentials.js';
import { silentLogger } from '../../observability/logger.js';
import { ConnectionError, RequestRefused, createConnectionPool } from './connection-pool.js';

/** A TLS HTTP/2 server that counts the connections it gets and answers each request after 20 ms. */
async function countingServer() {
  const id = await createTlsIdentity('127.0.0.1');
  let sessions = 0;
  const server = http2.createSecureServer({ key: id.keyPem, cert: id.certPem });
  server.on('session', () => sessions++);
  server.on('stream', (stream) => setTimeout(() => { stream.respond({ ':status': 200 }); stream.end(); }, 20));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ca: id.certPem,
    get sessions() { return sessions; },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

for (const [share, expected] of [[1, 4], [0.5, 2], [0.2, 1]] as const) {
  test(`at a share of ${share} of a 4-connection budget, the pool opens ${expected}`, async () => {
    const server = await countingServer();
    const pool = createConnectionPool({
      origin: server.origin, ca: server.ca, log: silentLogger(), maxConnections: 4, share: () => share,
      streamsPerConnection: 1, requestTimeoutMs: 5_000,
    });
    try {
      // One stream per connection wanted and 40 requests at once: the pool opens all it may.
      const answers = await Promise.all(Array.from({ length: 40 }, () => pool.request({ ':method': 'POST', ':path': '/' }, '')));
      assert.ok(answers.every((a) => a.status === 200));
      assert.equal(server.sessions, expected);
    } finally {
      await pool.close();
      await server.close();
    }
  });
}

test('a request Node refuses, or the peer resets as malformed, is that request\'s RequestRefused; the connection carries on', async () => {
  const server = await countingServer();
  const pool = createConnectionPool({
    origin: server.origin, ca: server.ca, log: silentLogger(), maxConnections: 1, streamsPerConnection: 100, requestTimeoutMs: 5_000,
  });
  const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
  try {
    assert.equal((await pool.request({ ':method': 'POST', ':path': '/' }, '')).status, 200);
    const [local, pseudo, malformed, good] = await Promise.all([
      refusal(pool.request({ ':method': 'POST', ':path': '/', connection: 'keep-alive' }, '')), // ERR_HTTP2_INVALID_CONNECTION_HEADERS
      refusal(pool.request({ ':method': 'POST', ':path': '/', ':token': 'x' }, '')), // ERR_HTTP2_INVALID_PSEUDOHEADER
      refusal(pool.request({ ':method': 'POST', ':path': '/3/device/a b' }, '')), // RST_STREAM PROTOCOL_ERROR from the peer
      pool.request({ ':method': 'POST', ':path': '/' }, ''),
    ]);
    for (const [err, isLocal] of [[local, true], [pseudo, true], [malformed, false]] as const) {
      assert.ok(err instanceof RequestRefused, `refused, not a connection failure: ${String(err)}`);
      assert.ok(!(err instanceof ConnectionError));
      assert.equal(err.local, isLocal, err.message);
    }
    assert.equal(good.status, 200);
    assert.equal((await pool.request({ ':method': 'POST', ':path': '/' }, '')).status, 200);
    assert.equal(server.sessions, 1, 'no connection was given up for them');
  } finally {
    await pool.close();
    await server.close();
  }
});
