/**
 * The Node SDK under kill -9: while an application sends a stream of messages through the SDK, the
 * Herald process is killed with SIGKILL and restarted on the same database, several times. Every
 * logical call the application made completes, and each is stored exactly once: one message per
 * call (counted by the marker in its content), under the message id the call answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Herald } from '../../sdk/node/src/index.js';
import { testDatabase } from '../support/database.js';
import { freePort, spawnHerald, type HeraldProcess } from '../support/process.js';
import { eventually } from '../support/eventually.js';
import { testMasterKey } from '../support/keyring.js';
import { createProject } from '../../src/store/projects.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { silentLogger } from '../../src/observability/logger.js';

const calls = 300;
const concurrency = 12;
/** Kills when this many calls have completed: mid-stream, with calls in flight. */
const killAt = [40, 120, 200];

test('SIGKILLs in the middle of a stream of SDK calls: every call completes, each stored exactly once', { timeout: 240_000 }, async (t) => {
  const db = await testDatabase();
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const masterKey = testMasterKey();
  const args = ['--port', String(await freePort()), '--database-url', db.url, '--sandbox-url', sandbox.inspectionUrl];
  // PostgreSQL's queue: what is under test is the API's answer, not the queue behind it.
  const env = { HERALD_MASTER_KEY: masterKey.text, NATS_URL: '' };
  let herald: HeraldProcess = await spawnHerald(args, env);
  const project = await createProject(db.sql, 'sdk-kill9', masterKey.keyring);
  let retries = 0;
  const client = new Herald({
    url: herald.url, apiKey: project.rest_key, timeoutMs: 60_000,
    retries: { max: 1_000, baseMs: 50, maxMs: 1_000 },
    onRetry: () => { retries++; },
  });

  const answered = new Map<number, string>();
  let next = 0;
  let done = 0;
  const app = Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < calls) {
      const i = next++;
      const r = await client.messages.send({
        group_id: 'sdk-kill9',
        recipients: { tokens: [{ platform: 'ios', token: i.toString(16).padStart(64, '0') }] },
        push: { title: `call-${i}`, body: 'kill -9 under the SDK' },
      });
      answered.set(i, r.message_id);
      done++;
    }
  }));
  let kills = 0;
  const killer = (async () => {
    for (const at of killAt) {
      await eventually(() => done >= at, 120_000, `${at} calls completed`);
      await herald.kill9();
      kills++;
      herald = await spawnHerald(args, env);
    }
  })();

  try {
    await Promise.all([app, killer]);
    assert.equal(answered.size, calls, 'every logical call completed');
    const rows = await db.sql<{ title: string; n: number; ids: string[] }[]>`
      select content->'push'->>'title' as title, count(*)::int as n, array_agg(id::text) as ids from messages group by 1`;
    const byTitle = new Map(rows.map((r) => [r.title, r]));
    for (let i = 0; i < calls; i++) {
      const row = byTitle.get(`call-${i}`);
      assert.ok(row, `call ${i} is not stored`);
      assert.equal(row.n, 1, `call ${i} is stored ${row.n} times`);
      assert.equal(row.ids[0], answered.get(i), `call ${i} answered another message id than the one stored`);
    }
    assert.equal(rows.length, calls, 'nothing else is stored');
    const [keys] = await db.sql<{ n: number }[]>`select count(*)::int as n from idempotency_keys where project_id = ${project.project_id}`;
    assert.equal(keys?.n, calls, 'one idempotency key per logical call');
    assert.ok(retries > 0, 'the kills made the SDK retry');
    t.diagnostic(`${kills} kills, ${retries} retries, ${calls} calls each stored once`);
  } finally {
    await herald.stop();
    await sandbox.close();
    await db.close();
  }
});
