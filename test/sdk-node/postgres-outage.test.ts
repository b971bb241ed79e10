/**
 * The Node SDK while PostgreSQL is unreachable for about 20 s: Herald (a child process) reaches its
 * database through a TCP proxy this test stops, closing every connection, and starts again on the
 * same port. Calls made meanwhile either complete exactly once after it is back (within their
 * deadline) or fail with a HeraldTimeoutError that names their attempts and key; never silently.
 * Calling again with that key afterwards settles them, once each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Herald, HeraldTimeoutError } from '../../sdk/node/src/index.js';
import { testDatabase } from '../support/database.js';
import { freePort, spawnHerald } from '../support/process.js';
import { eventually } from '../support/eventually.js';
import { testMasterKey } from '../support/keyring.js';
import { createProject } from '../../src/store/projects.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { silentLogger } from '../../src/observability/logger.js';

const outageMs = 20_000;

/** A TCP proxy to `target` on `port`: stop() refuses new connections and cuts the open ones. */
function tcpProxy(port: number, target: { host: string; port: number }) {
  let server: Server | undefined;
  const open = new Set<Socket>();
  const start = () => new Promise<void>((resolve, reject) => {
    server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const s of [client, upstream]) {
        open.add(s);
        s.on('close', () => open.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const stop = () => new Promise<void>((resolve) => {
    for (const s of open) s.destroy();
    server!.close(() => resolve());
  });
  return { start, stop };
}

test('PostgreSQL unreachable for 20 s: SDK calls complete exactly once after, or fail with a HeraldTimeoutError', { timeout: 180_000 }, async (t) => {
  const db = await testDatabase();
  const masterKey = testMasterKey();
  const project = await createProject(db.sql, 'sdk-pg-outage', masterKey.keyring);
  const real = new URL(db.url);
  const proxyPort = await freePort();
  const proxy = tcpProxy(proxyPort, { host: real.hostname, port: Number(real.port || 5432) });
  await proxy.start();
  const viaProxy = new URL(db.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxyPort);

  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const herald = await spawnHerald(['--port', String(await freePort()), '--database-url', viaProxy.toString(), '--sandbox-url', sandbox.inspectionUrl],
    { HERALD_MASTER_KEY: masterKey.text, NATS_URL: '' });
  const retried = new Set<string>();
  const client = (timeoutMs: number) => new Herald({
    url: herald.url, apiKey: project.rest_key, timeoutMs, retries: { max: 1_000, baseMs: 100, maxMs: 2_000 },
    onRetry: (i) => { if (i.idempotencyKey) retried.add(i.idempotencyKey); },
  });
  const patient = client(60_000);
  const hasty = client(3_000);
  const send = (h: Herald, marker: string, idempotencyKey?: string) => h.messages.send({
    group_id: 'sdk-pg-outage', recipients: { tokens: [{ platform: 'ios', token: 'ab'.repeat(32) }] },
    push: { title: marker, body: 'sent while PostgreSQL was away' },
  }, idempotencyKey ? { idempotencyKey } : {});
  const stored = async () => {
    const rows = await db.sql<{ title: string; n: number }[]>`
      select content->'push'->>'title' as title, count(*)::int as n from messages group by 1`;
    return new Map(rows.map((r) => [r.title, r.n]));
  };

  try {
    await send(patient, 'before');
    const t0 = performance.now();
    await proxy.stop();
    await eventually(async () => (await fetch(herald.url + '/readyz')).status === 503, 15_000, '/readyz to say the database is down');

    const patientCalls = Array.from({ length: 8 }, (_, i) => send(patient, `patient-${i}`).then((r) => ({ ok: r.message_id }), (e: unknown) => ({ err: e })));
    const hastyCalls = Array.from({ length: 4 }, (_, i) => send(hasty, `hasty-${i}`).then(() => ({ err: undefined }), (e: unknown) => ({ err: e })));
    const hastyOutcomes = await Promise.all(hastyCalls);
    for (const o of hastyOutcomes) {
      assert.ok(o.err instanceof HeraldTimeoutError, `a call past its deadline fails with a HeraldTimeoutError, not ${String(o.err)}`);
      assert.ok(o.err.attempts >= 1);
      assert.ok(o.err.idempotencyKey);
      assert.match(o.err.message, /3000 ms deadline after \d+ attempts?/);
      assert.ok(['database_unavailable', 'network_error'].includes(o.err.lastError?.code ?? ''), `last error ${o.err.lastError?.code}`);
    }
    await eventually(() => retried.size >= 8 + 4, 15_000, 'every call made during the outage to have been refused and retried');

    // The outage's length is the scenario itself: nothing to wait for but time.
    await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (performance.now() - t0))));
    await proxy.start();
    const outcomes = await Promise.all(patientCalls);
    const outage = Math.round(performance.now() - t0);
    for (const o of outcomes) assert.ok('ok' in o, `a call within its deadline completes after the outage: ${String((o as { err: unknown }).err)}`);

    const after = await stored();
    for (let i = 0; i < 8; i++) assert.equal(after.get(`patient-${i}`), 1, `patient-${i} is stored once`);
    // A call that timed out may have been applied by an attempt in flight at its deadline, but at most once.
    for (let i = 0; i < 4; i++) assert.ok((after.get(`hasty-${i}`) ?? 0) <= 1, `hasty-${i} is stored at most once`);
    // The application calls them again with their keys: each is applied once, or replayed.
    for (const [i, o] of hastyOutcomes.entries()) await send(patient, `hasty-${i}`, (o.err as HeraldTimeoutError).idempotencyKey);
    const settled = await stored();
    for (let i = 0; i < 4; i++) assert.equal(settled.get(`hasty-${i}`), 1, `hasty-${i} is stored once after its retry`);
    assert.equal(settled.get('before'), 1);
    assert.equal([...settled.values()].reduce((a, b) => a + b, 0), 1 + 8 + 4, 'nothing else is stored');
    t.diagnostic(`database unreachable for ${outage} ms; 8 calls completed after it, 4 timed out and were settled by their keys`);
  } finally {
    await herald.stop();
    await proxy.stop().catch(() => {});
    await sandbox.close();
    await db.close();
  }
});
