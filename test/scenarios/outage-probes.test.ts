/**
 * With PostgreSQL down, NATS down, or both: /healthz and /readyz answer within a second and
 * /readyz names what is down; SIGTERM stops the process within its grace period whatever the state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnHerald, type HeraldProcess } from '../support/process.js';
import { testDatabase } from '../support/database.js';
import { natsServerInstalled, privateNats } from '../support/jetstream/nats.js';
import { startEmbeddedPostgres } from '../../src/store/embedded.js';
import { silentLogger } from '../../src/observability/logger.js';
import { testMasterKey } from '../support/keyring.js';

const graceSeconds = 2;

async function timed(url: string, h: HeraldProcess): Promise<{ ms: number; status: number; body: any }> {
  const t0 = Date.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) }).catch((err: Error) => {
    throw new Error(`${url}: ${err.message} (${String(err.cause)}); Herald exit code ${h.child.exitCode}:\n${h.output().slice(-3000)}`);
  });
  const body = await res.json();
  return { ms: Date.now() - t0, status: res.status, body };
}

/** Both probes within 1 s; returns /readyz's answer. */
async function probe(h: HeraldProcess) {
  const health = await timed(h.url + '/healthz', h);
  assert.ok(health.ms < 1_000, `/healthz took ${health.ms} ms`);
  assert.equal(health.status, 200);
  const ready = await timed(h.url + '/readyz', h);
  assert.ok(ready.ms < 1_000, `/readyz took ${ready.ms} ms: ${JSON.stringify(ready.body)}`);
  return ready;
}

async function stopsWithinGrace(h: HeraldProcess): Promise<void> {
  const t0 = Date.now();
  const code = await Promise.race([h.stop(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
  const ms = Date.now() - t0;
  if (code === 'hung') await h.kill9();
  assert.notEqual(code, 'hung', `SIGTERM did not stop Herald:\n${h.output().slice(-2000)}`);
  assert.ok(ms < graceSeconds * 1000 + 1_500, `SIGTERM took ${ms} ms with a ${graceSeconds} s grace period`);
}

async function privatePostgres() {
  const dir = await mkdtemp(join(tmpdir(), 'herald-private-pg-'));
  const pg = await startEmbeddedPostgres(dir, silentLogger());
  return { url: pg.url, stop: pg.stop, destroy: async () => { await pg.stop(); await rm(dir, { recursive: true, force: true }); } };
}

const args = async () => ['--port', String(await freePort()), '--shutdown-grace-seconds', String(graceSeconds)];

test('PostgreSQL down: probes answer within 1 s saying so, and SIGTERM stops within the grace period', { timeout: 120_000 }, async () => {
  const pg = await privatePostgres();
  const masterKey = testMasterKey();
  const h = await spawnHerald(await args(), { DATABASE_URL: pg.url, HERALD_MASTER_KEY: masterKey.text, NATS_URL: '' });
  try {
    await pg.stop();
    const ready = await probe(h);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'unavailable');
    assert.match(ready.body.database, /^down: /);
    assert.match(ready.body.queue, /^down: /, 'the PostgreSQL queue is down with its database');
    await stopsWithinGrace(h);
  } finally {
    if (h.child.exitCode === null) await h.kill9();
    await pg.destroy();
  }
});

test('NATS down: probes answer within 1 s, degraded, naming the queue; SIGTERM stops within the grace period', { timeout: 120_000 }, async (t) => {
  if (!(await natsServerInstalled())) return t.skip('no nats-server on PATH');
  const nats = await privateNats(await freePort());
  const db = await testDatabase();
  const masterKey = testMasterKey();
  const h = await spawnHerald(await args(), { DATABASE_URL: db.url, HERALD_MASTER_KEY: masterKey.text, NATS_URL: nats.url });
  try {
    assert.equal((await probe(h)).body.status, 'ready');
    await nats.stop();
    const ready = await probe(h);
    assert.equal(ready.status, 200, 'requests are still accepted durably');
    assert.equal(ready.body.status, 'degraded');
    assert.equal(ready.body.database, 'up');
    assert.match(ready.body.queue, /^down: /);
    await stopsWithinGrace(h);
  } finally {
    if (h.child.exitCode === null) await h.kill9();
    await nats.destroy();
    await db.close();
  }
});

test('PostgreSQL and NATS down: probes answer within 1 s, and SIGTERM stops within the grace period', { timeout: 120_000 }, async (t) => {
  if (!(await natsServerInstalled())) return t.skip('no nats-server on PATH');
  const nats = await privateNats(await freePort());
  const pg = await privatePostgres();
  const masterKey = testMasterKey();
  const h = await spawnHerald(await args(), { DATABASE_URL: pg.url, HERALD_MASTER_KEY: masterKey.text, NATS_URL: nats.url });
  try {
    await Promise.all([nats.stop(), pg.stop()]);
    const ready = await probe(h);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'unavailable');
    assert.match(ready.body.database, /^down: /);
    assert.match(ready.body.queue, /^down: /);
    await stopsWithinGrace(h);
  } finally {
    if (h.child.exitCode === null) await h.kill9();
    await nats.destroy();
    await pg.destroy();
  }
});
