import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import type { WorkQueue } from '../queue/queue.js';
import { silentLogger } from '../observability/logger.js';
import { uuidv7 } from '../domain/ids.js';
import { createProject } from '../store/projects.js';
import { insertMessages } from '../store/messages.js';
import { claimDeliveries } from '../store/deliveries.js';
import { reconcileOnce } from './reconciler.js';
import { topics } from '../worker/topics.js';
import { testMasterKey } from '../../test/support/keyring.js';

const { keyring } = testMasterKey();

let db: TestDatabase;
let queue: WorkQueue;
let projectId: string;
before(async () => {
  db = await testDatabase();
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5 });
  projectId = (await createProject(db.sql, 'reconcile', keyring)).project_id;
});
after(async () => { await queue.close(); await db.close(); });
beforeEach(async () => {
  await db.sql`delete from jobs`;
  await db.sql`delete from job_outbox`;
  await db.sql`delete from messages`;
});

const graceMs = 60_000;
const sweep = () => reconcileOnce({ sql: db.sql, queue, log: silentLogger(), graceMs });

/** A message accepted `agoMs` ago whose job the queue no longer has. */
async function message(agoMs: number, fannedOut = false): Promise<string> {
  const id = uuidv7();
  await db.sql.begin((tx) => insertMessages(tx, [{
    id, projectId, groupId: 'g', recipients: { tokens: [] }, content: { push: { title: 't', body: 'b' } },
    createdAt: new Date(Date.now() - agoMs), expiresAt: null,
  }]));
  if (fannedOut) await db.sql`update messages set fanned_out_at = now() where id = ${id}`;
  return id;
}

async function delivery(messageId: string, dueAgoMs: number): Promise<string> {
  const id = uuidv7();
  await db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, due_at)
    values (${id}, ${messageId}, ${projectId}, 'ios', ${'tok-' + id}, 'token', now() - ${dueAgoMs} * interval '1 millisecond')`;
  return id;
}

const jobs = async () =>
  (await db.sql<{ topic: string; payload: Record<string, string> }[]>`select topic, payload from jobs order by topic`)
    .map((j) => [j.topic, Object.values(j.payload)[0]]);

test('a message never fanned out long after its acceptance gets a fan-out job again, once per grace period', async () => {
  const lost = await message(graceMs * 2);
  await message(graceMs / 2); // recent: its job may still be on its way
  await message(graceMs * 2, true); // done
  assert.deepEqual(await sweep(), { fanouts: 1, deliveries: 0, audiences: 0, releases: 0 });
  assert.deepEqual(await jobs(), [[topics.fanout, lost]]);
  assert.equal((await sweep()).releases, 0, 'not again within the grace period');
});

test('a queued delivery long past due with no call under way gets a delivery job again', async () => {
  const m = await message(graceMs * 3, true);
  const lost = await delivery(m, graceMs * 2);
  await delivery(m, graceMs / 2); // recently due
  const sending = await delivery(m, graceMs * 2);
  await claimDeliveries(db.sql, [sending], 30_000, new Date()); // a live call holds it
  const done = await delivery(m, graceMs * 2);
  await db.sql`update deliveries set status = 'sent' where id = ${done}`;
  assert.deepEqual(await sweep(), { fanouts: 0, deliveries: 1, audiences: 0, releases: 0 });
  assert.deepEqual(await jobs(), [[topics.apns, lost]]);
  assert.deepEqual(await sweep(), { fanouts: 0, deliveries: 0, audiences: 0, releases: 0 }, 'its due time moved: not again within the grace period');
});

test('work whose job still waits in the outbox (NATS away) is left alone', async () => {
  const m = await message(graceMs * 2);
  const d = await delivery(await message(graceMs * 3, true), graceMs * 2);
  await db.sql`insert into job_outbox (id, topic, payload) values
    (${uuidv7()}, ${topics.fanout}, ${db.sql.json({ message_id: m })}),
    (${uuidv7()}, ${topics.apns}, ${db.sql.json({ delivery_id: d })})`;
  assert.deepEqual(await sweep(), { fanouts: 0, deliveries: 0, audiences: 0, releases: 0 });
});

test('two sweeps at once take disjoint work', async () => {
  const lost = await Promise.all(Array.from({ length: 50 }, () => message(graceMs * 2)));
  const [a, b] = await Promise.all([sweep(), sweep()]);
  assert.equal(a.fanouts + b.fanouts, lost.length);
  assert.equal((await jobs()).length, lost.length);
});

test('an audience with member changes long unapplied gets one apply job for them all; applied and recent ones are left alone', async () => {
  await db.sql`delete from audiences`;
  const audience = async () => {
    const id = uuidv7();
    await db.sql`insert into audiences (project_id, id, name) values (${projectId}, ${id}, ${id})`;
    return id;
  };
  const change = async (audienceId: string, agoMs: number, applied = false) => {
    const at = new Date(Date.now() - agoMs);
    await db.sql`insert into audience_changes (id, project_id, audience_id, kind, custom_ids, id_count, created_at, applied_at)
      values (${uuidv7()}, ${projectId}, ${audienceId}, 'add', ${['u1']}, 1, ${at}, ${applied ? at : null})`;
  };
  const lost = await audience();
  await change(lost, graceMs * 3);
  await change(lost, graceMs * 2);
  const done = await audience();
  await change(done, graceMs * 2, true);
  const recent = await audience();
  await change(recent, graceMs / 2);
  const waiting = await audience();
  await change(waiting, graceMs * 2);
  await db.sql`insert into job_outbox (id, topic, payload) values (${uuidv7()}, ${topics.applyAudiences}, ${db.sql.json({ project_id: projectId, audience_id: waiting })})`;
  assert.deepEqual(await sweep(), { fanouts: 0, deliveries: 0, audiences: 1, releases: 0 });
  const queued = await db.sql<{ topic: string; payload: { project_id: string; audience_id: string } }[]>`select topic, payload from jobs`;
  assert.deepEqual(queued.map((j) => [j.topic, j.payload]), [[topics.applyAudiences, { project_id: projectId, audience_id: lost }]]);
  assert.equal((await sweep()).releases, 0, 'not again within the grace period');
});

test('a capping deferral long past its release with no job left gets a release job again, once per grace period', async () => {
  const waiting = await message(graceMs * 3, true);
  const recent = await message(graceMs * 3, true);
  await db.sql`insert into capping_deferrals (message_id, custom_id, release_at, reason) values
    (${waiting}, 'a', now() - ${graceMs * 2} * interval '1 millisecond', 'capped: r'),
    (${waiting}, 'b', now() - ${graceMs * 2} * interval '1 millisecond', 'capped: r'),
    (${recent}, 'c', now() - ${graceMs / 2} * interval '1 millisecond', 'capped: r')`;
  assert.equal((await sweep()).releases, 1);
  const [job] = await db.sql<{ payload: Record<string, unknown> }[]>`select payload from jobs where topic = ${topics.fanout}`;
  assert.deepEqual(job!.payload, { message_id: waiting, release: true });
  assert.equal((await sweep()).releases, 0, 'not again within the grace period');
});
