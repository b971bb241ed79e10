/**
 * The Node SDK while NATS (the JetStream queue) is down: Herald (a child process) runs on a private
 * nats-server that this test kills (SIGKILL, a crash) and starts again 10 s later. Sends keep being
 * accepted meanwhile, because an accept commits to PostgreSQL (the outbox) and the relay publishes
 * once NATS is back; every call the application made completes, is stored once, and is delivered
 * once to the simulator after the outage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Herald } from '../../sdk/node/src/index.js';
import { testDatabase } from '../support/database.js';
import { freePort, spawnHerald } from '../support/process.js';
import { eventually } from '../support/eventually.js';
import { testMasterKey } from '../support/keyring.js';
import { natsServerInstalled, privateNats } from '../support/jetstream/nats.js';
import { createProject } from '../../src/store/projects.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { silentLogger } from '../../src/observability/logger.js';

const outageMs = 10_000;
const calls = 20;

test('NATS down for 10 s: SDK sends are accepted, stored once and delivered once after it returns', {
  timeout: 180_000,
  skip: !(await natsServerInstalled()) && !process.env.CI ? 'nats-server is not installed' : false,
}, async (t) => {
  const db = await testDatabase();
  const masterKey = testMasterKey();
  const project = await createProject(db.sql, 'sdk-nats-outage', masterKey.keyring);
  const nats = await privateNats(await freePort());
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const herald = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--sandbox-url', sandbox.inspectionUrl],
    { HERALD_MASTER_KEY: masterKey.text, NATS_URL: nats.url });
  const client = new Herald({ url: herald.url, apiKey: project.rest_key, timeoutMs: 90_000, retries: { max: 1_000, baseMs: 100, maxMs: 2_000 } });
  const token = (i: number) => i.toString(16).padStart(8, '0') + 'cd'.repeat(28);
  const send = (marker: string, i: number) => client.messages.send({
    group_id: 'sdk-nats-outage', recipients: { tokens: [{ platform: 'ios', token: token(i) }] },
    push: { title: marker, body: 'sent while NATS was away' },
  });
  const records = async (i: number) => {
    const r = await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=apns&target=${token(i)}`);
    return (await r.json()) as unknown[];
  };

  try {
    await send('before', 0);
    await eventually(async () => (await records(0)).length === 1, 30_000, 'the first push delivered');
    const t0 = performance.now();
    await nats.stop();
    const during = await Promise.all(Array.from({ length: calls }, (_, i) => send(`during-${i}`, i + 1).then((r) => ({ ok: r.message_id }), (e: unknown) => ({ err: e }))));
    const accepted = Math.round(performance.now() - t0);
    for (const o of during) assert.ok('ok' in o, `a send during the outage is accepted: ${String((o as { err: unknown }).err)}`);
    // Nothing reaches a provider while the queue is down: the jobs wait in PostgreSQL's outbox.
    assert.equal((await records(1)).length, 0);

    // The outage's length is the scenario itself: nothing to wait for but time.
    await new Promise((r) => setTimeout(r, Math.max(0, outageMs - (performance.now() - t0))));
    await nats.start();
    await eventually(async () => {
      for (let i = 1; i <= calls; i++) if ((await records(i)).length === 0) return false;
      return true;
    }, 90_000, 'every send made during the outage delivered once NATS is back');
    const delivered = Math.round(performance.now() - t0);

    const stored = await db.sql<{ title: string; n: number }[]>`select content->'push'->>'title' as title, count(*)::int as n from messages group by 1`;
    assert.equal(stored.length, calls + 1);
    for (const s of stored) assert.equal(s.n, 1, `${s.title} is stored once`);
    for (let i = 0; i <= calls; i++) assert.equal((await records(i)).length, 1, `push ${i} reached the simulator once`);
    t.diagnostic(`NATS down ${outageMs} ms; ${calls} sends accepted within ${accepted} ms of the crash; all delivered ${delivered} ms after it`);
  } finally {
    await herald.stop();
    await nats.destroy();
    await sandbox.close();
    await db.close();
  }
});
