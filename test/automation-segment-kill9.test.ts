/**
 * Segment triggers across real Herald processes (`--role api` and `--role scheduler`) on one
 * database: 1,500 profiles written silver, then gold (a saved segment's condition), each gold one
 * written twice; the scheduler is killed with SIGKILL twice while the loop turns those writes into
 * entries and runs the journeys (send, wait, send), and started again. Afterwards every profile
 * entered exactly once and got exactly its two messages: a profile write is acted on once, however
 * the process dies, and a write that keeps the profile inside enters nobody.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase } from './support/database.js';
import { freePort, spawnHerald, testStreamPrefix, type HeraldProcess } from './support/process.js';
import { deleteStreams } from './support/jetstream/nats.js';
import { eventually } from './support/eventually.js';
import { testMasterKey } from './support/keyring.js';
import { createProject } from '../src/store/projects.js';

const n = 1_500;

test('kill -9 of the scheduler while segment entries are made enters each profile once and sends none twice', { timeout: 600_000 }, async (t) => {
  const db = await testDatabase();
  const masterKey = testMasterKey();
  const project = await createProject(db.sql, 'segment-kill9', masterKey.keyring);
  const common = ['--database-url', db.url];
  const env = { HERALD_MASTER_KEY: masterKey.text };
  const port = await freePort();
  const api = await spawnHerald(['--role', 'api', '--port', String(port), ...common], env, { readyTimeoutMs: 120_000 });
  const startScheduler = () => spawnHerald(['--role', 'scheduler', ...common], env, { readyLog: 'scheduler running', readyTimeoutMs: 120_000 });
  let scheduler: HeraldProcess | undefined;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api.url + path, {
      method, headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60_000),
    });
    return { status: res.status, body: await res.json() as any };
  };
  const sent = async () => Number((await db.sql<{ n: number }[]>`select count(*)::int as n from messages where group_id like 'automation:%'`)[0]!.n);
  const write = async (tier: string, extra: Record<string, unknown> = {}) => {
    for (let from = 0; from < n; from += 150) {
      const ops = Array.from({ length: 150 }, (_, k) => ({ identifiers: { custom_id: `p${from + k}` }, attributes: { $email: `p${from + k}@example.com`, tier, ...extra } }));
      const r = await call('POST', '/v1/profiles/update', ops);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  };
  try {
    const segment = await call('POST', '/v1/segments', { name: 'gold', query: { attribute: 'tier', eq: 'gold' } });
    assert.equal(segment.status, 201, JSON.stringify(segment.body));
    const created = await call('POST', '/v1/automations', {
      name: 'segment kill -9', start: true, definition: {
        trigger: { type: 'segment', segment: segment.body.id },
        steps: [
          { id: 'welcome', type: 'send', channels: ['email'], content: { email: { subject: 'Welcome to gold', text: 't' } } },
          { id: 'wait', type: 'wait', duration: { seconds: 2 } },
          { id: 'again', type: 'send', channels: ['email'], content: { email: { subject: 'Again', text: 't' } } },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    // The writes go in with no loop running: each is kept, by the statement that made it.
    await write('silver');
    await write('gold');
    await write('gold', { visits: 2 });
    scheduler = await startScheduler();
    for (const at of [n / 2, n + n / 4]) {
      await eventually(async () => (await sent()) >= at, 240_000, `${at} messages sent`);
      await scheduler.kill9();
      const atKill = await sent();
      t.diagnostic(`scheduler killed with ${atKill} of ${2 * n} messages sent`);
      assert.ok(atKill < 2 * n, 'the kill came after the work had ended: nothing was proved');
      scheduler = await startScheduler();
    }
    await eventually(async () => {
      const [r] = await db.sql<{ n: number }[]>`select count(*)::int as n from automation_journeys where state = 'completed'`;
      return r!.n === n;
    }, 300_000, 'every journey completed');
    // The second gold write of each profile is looked at too, after its entry: it must enter nobody.
    await eventually(async () => {
      const [r] = await db.sql<{ n: number }[]>`select count(*)::int as n from automation_inbox`;
      return r!.n === 0;
    }, 300_000, 'every kept profile write acted on');
    const perProfile = await db.sql<{ custom_id: string; n: number }[]>`
      select recipients -> 'custom_ids' ->> 0 as custom_id, count(*)::int as n from messages where group_id = ${`automation:${id}`} group by 1`;
    assert.equal(perProfile.length, n, 'every profile got messages');
    const wrong = perProfile.filter((p) => p.n !== 2);
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} profiles did not get exactly their two messages`);
    const counts = (await call('GET', `/v1/automations/${id}`)).body.counts;
    assert.equal(counts.entered, n);
    assert.equal(counts.completed, n);
    assert.deepEqual(counts.not_entered, {});
    const [inside] = await db.sql<{ n: number }[]>`select count(*)::int as n from automation_profiles where automation_id = ${id} and in_segment`;
    assert.equal(inside!.n, n);
  } finally {
    await Promise.all([api.stop(), scheduler?.stop()]);
    await db.close();
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
