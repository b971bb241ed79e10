/**
 * The APNs sender against the sandbox's APNs simulator: real TLS, real HTTP/2, real ES256 tokens
 * verified by the simulator as Apple would.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { silentLogger } from '../../observability/logger.js';
import { uuidv7 } from '../../domain/ids.js';
import { createApnsSender, type ApnsCredentials, type ApnsSendRequest } from './client.js';

let sandbox: Sandbox;
let sandboxNow = Date.now();
let creds: ApnsCredentials;
before(async () => {
  sandbox = await startSandbox({ port: 0, log: silentLogger(), clock: () => sandboxNow });
  const c = sandbox.credentials.apns;
  creds = {
    teamId: c.team_id, keyId: c.key_id, privateKeyPem: c.private_key_pem, topic: c.topic,
    endpoint: { production: sandbox.endpoints.apns, sandbox: sandbox.endpoints.apns },
  };
});
after(async () => { await sandbox.close(); });

let n = 0;
const token = (prefix = '') => prefix + (++n).toString(16).padStart(8, '0') + 'cd'.repeat(28);
const request = (t: string): ApnsSendRequest => ({
  token: t, environment: 'production', apnsId: uuidv7(), collapseId: 'c-' + t.slice(0, 8), priority: 10, pushType: 'alert',
  expiration: Math.floor(Date.now() / 1000) + 3600, payload: JSON.stringify({ aps: { alert: { title: 't', body: 'b' } } }),
});

async function records(target: string, include = ''): Promise<any[]> {
  const r = await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=apns&target=${target}${include}`);
  return (await r.json()) as any[];
}
async function fault(rule: Record<string, unknown>): Promise<void> {
  const r = await fetch(`${sandbox.inspectionUrl}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'apns', ...rule }),
  });
  assert.equal(r.status, 201, await r.text());
}

test('500 concurrent pushes are all delivered over a few connections that start at one stream each', async () => {
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem, maxConnections: 3, streamsPerConnection: 100 });
  try {
    const tokens = Array.from({ length: 500 }, () => token('a'));
    const outcomes = await Promise.all(tokens.map((t) => sender.send(creds, request(t))));
    assert.deepEqual(new Set(outcomes.map((o) => o.kind)), new Set(['delivered']));
    const seen = await Promise.all(tokens.slice(0, 20).map((t) => records(t)));
    for (const r of seen) assert.equal(r.length, 1);
    // One provider token for all of them: minted once, reused (Apple: not more than every 20 min).
    const auth = new Set(seen.flat().map((r) => r.headers.authorization));
    assert.equal(auth.size, 1);
  } finally {
    await sender.close();
  }
});

test('the request carries Apple\'s headers and the apns-id it was given', async () => {
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem });
  try {
    const t = token();
    const req = { ...request(t), priority: 5 as const };
    assert.deepEqual(await sender.send(creds, req), { kind: 'delivered' });
    const [rec] = await records(t);
    assert.equal(rec.headers[':method'], 'POST');
    assert.equal(rec.headers[':path'], `/3/device/${t}`);
    assert.equal(rec.headers['apns-topic'], creds.topic);
    assert.equal(rec.headers['apns-id'], req.apnsId);
    assert.equal(rec.headers['apns-priority'], '5');
    assert.equal(rec.headers['apns-collapse-id'], req.collapseId);
    assert.equal(rec.headers['apns-expiration'], String(req.expiration));
  } finally {
    await sender.close();
  }
});

test('a token that is not hex is invalid unsent; a header the peer resets as malformed is rejected, never provider_down', async () => {
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem });
  try {
    for (const bad of ['a b', 'zz'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(32)}\n`]) {
      const o = await sender.send(creds, request(bad));
      assert.equal(o.kind, 'token_invalid', `${JSON.stringify(bad)}: ${JSON.stringify(o)}`);
      assert.equal('local' in o && o.local, true, 'decided without a request');
    }
    // A collapse id with a NUL: HTTP/2 refuses the header field (RFC 9113 §8.2.1).
    const t = token();
    const o = await sender.send(creds, { ...request(t), collapseId: 'a\u0000b' });
    assert.equal(o.kind, 'rejected', JSON.stringify(o));
    assert.equal((await records(t)).length, 0);
    assert.deepEqual(await sender.send(creds, request(token())), { kind: 'delivered' }, 'the connection still sends');
  } finally {
    await sender.close();
  }
});

test('a dropped connection is retried at once on a fresh one, with the same apns-id', async () => {
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem });
  try {
    const t = token('d');
    await fault({ target_prefix: t, drop_connection: true, count: 1 });
    const req = request(t);
    assert.deepEqual(await sender.send(creds, req), { kind: 'delivered' });
    const accepted = await records(t);
    assert.equal(accepted.length, 1);
    assert.equal(accepted[0].headers['apns-id'], req.apnsId);
  } finally {
    await sender.close();
  }
});

test('provider errors come back as outcomes: 410 invalidates, 429 and 503 carry Retry-After', async () => {
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem });
  try {
    const dead = token('e1');
    const slow = token('e2');
    const down = token('e3');
    await fault({ target_prefix: dead, status: 410, reason: 'Unregistered' });
    await fault({ target_prefix: slow, status: 429, reason: 'TooManyRequests', retry_after_s: 7 });
    await fault({ target_prefix: down, status: 503, reason: 'ServiceUnavailable', retry_after_s: 3 });
    assert.deepEqual(await sender.send(creds, request(dead)), { kind: 'token_invalid', reason: 'Unregistered', status: 410 });
    const s = await sender.send(creds, request(slow));
    assert.equal(s.kind, 'retry');
    assert.equal(s.kind === 'retry' && s.retryAfterMs, 7_000);
    const d = await sender.send(creds, request(down));
    assert.equal(d.kind, 'provider_down');
    assert.equal(d.kind === 'provider_down' && d.retryAfterMs, 3_000);
    // After a 503, the next push still goes through (on a new connection).
    assert.deepEqual(await sender.send(creds, request(token())), { kind: 'delivered' });
  } finally {
    await sender.close();
  }
});

test('an expired provider token is minted again once and the push retried', async () => {
  // The sender's clock runs 61 minutes behind the simulator's for its first token only.
  const realNow = Date.now();
  let first = true;
  const clock = () => {
    if (first) { first = false; return realNow - 61 * 60_000; }
    return realNow;
  };
  sandboxNow = realNow;
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem, clock });
  try {
    const t = token('f');
    assert.deepEqual(await sender.send(creds, request(t)), { kind: 'delivered' });
    const all = await records(t, '&include=rejected');
    assert.deepEqual(all.map((r) => r.reason ?? r.status), ['ExpiredProviderToken', 200]);
  } finally {
    await sender.close();
  }
});

test('a wrong key is credentials_invalid; an unreachable endpoint is provider_down', async () => {
  const sender = createApnsSender({ log: silentLogger(), ca: sandbox.caPem });
  try {
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const wrong = await sender.send({ ...creds, keyId: 'ZZZZZZZZZZ', privateKeyPem: other }, request(token()));
    assert.deepEqual(wrong, { kind: 'credentials_invalid', reason: 'InvalidProviderToken', status: 403 });
    const gone = await sender.send({ ...creds, endpoint: { production: 'https://127.0.0.1:1', sandbox: 'https://127.0.0.1:1' } }, request(token()));
    assert.equal(gone.kind, 'provider_down');
  } finally {
    await sender.close();
  }
});
