import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { uuidv7 } from '../domain/ids.js';
import { createProject } from './projects.js';
import { insertMessages } from './messages.js';
import { fanOutMessages, recordOutcomes } from './deliveries.js';
import { addSuppressions } from './email-suppressions.js';
import { optOutPhones, recordSmsStatus } from './sms.js';
import { createEndpoint } from './webhook-endpoints.js';
import { deleteOldWebhookEvents } from './webhook-deliveries.js';

// The outbox's writing half on a real database: events exist exactly when their facts committed.
const { keyring } = testMasterKey();
let db: TestDatabase;
let project: string;
let bare: string;
const now = new Date('2026-03-01T12:00:00.000Z');

before(async () => {
  db = await testDatabase();
  project = (await createProject(db.sql, 'hooks', keyring)).project_id;
  bare = (await createProject(db.sql, 'no hooks', keyring)).project_id;
  for (const eventTypes of [[], ['message.sent', 'message.failed']]) {
    await createEndpoint(db.sql, keyring, project, { id: uuidv7(), url: 'https://hooks.example.com/' + eventTypes.length, description: null, eventTypes, enabled: true, now });
  }
});
after(async () => {
  await db.close();
});

const events = async (p = project) => db.sql<{ id: string; type: string; data: Record<string, unknown>; created_at: Date; deliveries: number }[]>`
  select e.id, e.type, e.data, e.created_at, (select count(*)::int from webhook_deliveries d where d.event_id = e.id) as deliveries
  from webhook_events e where e.project_id = ${p} order by e.created_at, e.type`;
const reset = () => db.sql`delete from webhook_events`;

/** A message with one queued email delivery and one queued SMS delivery, committed. */
async function message(p = project) {
  const id = uuidv7();
  await db.sql.begin((tx) => insertMessages(tx, [{ id, projectId: p, groupId: 'g', recipients: { emails: ['to@example.com'], phones: ['+15550002222'] },
    content: { email: { subject: 's', text: 't', from: 'from@example.com' }, sms: { text: 'hi' } } as never, createdAt: now, expiresAt: null }]));
  const [email, sms] = [uuidv7(), uuidv7()];
  await db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, status) values
    (${email}, ${id}, ${p}, 'email', 'to@example.com', 'address', 'queued'), (${sms}, ${id}, ${p}, 'sms', '+15550002222', 'number', 'queued')`;
  return { id, email, sms };
}

test('an event is never written when the transaction of its fact rolls back', async () => {
  await reset();
  const m = await message();
  await assert.rejects(db.sql.begin(async (tx) => {
    await recordOutcomes(tx, [{ id: m.email, status: 'sent', reason: null, attempts: 1 }], now);
    await addSuppressions(tx, project, [{ address: 'gone@example.com', reason: 'hard_bounce' }], now);
    await optOutPhones(tx, project, ['+15550009999'], 'inbound_keyword', now);
    assert.equal((await tx`select count(*)::int as n from webhook_events`)[0]!.n, 3, 'written inside the transaction');
    throw new Error('roll back');
  }), /roll back/);
  assert.equal((await events()).length, 0);
  assert.equal((await db.sql`select count(*)::int as n from webhook_deliveries`)[0]!.n, 0);
  assert.equal((await db.sql`select status from deliveries where id = ${m.email}`)[0]!.status, 'queued');
});

test('delivery outcomes are message.sent / message.failed events, one delivery per endpoint that wants them', async () => {
  await reset();
  const m = await message();
  await recordOutcomes(db.sql, [
    { id: m.email, status: 'sent', reason: null, attempts: 1 },
    { id: m.sms, status: 'queued', reason: 'retry later', attempts: 1, retryInMs: 5000 }, // not final: no event
  ], now);
  const [sent, ...rest] = await events();
  assert.equal(rest.length, 0);
  assert.equal(sent!.type, 'message.sent');
  assert.equal(sent!.deliveries, 2, 'both endpoints want message.sent');
  assert.equal(sent!.created_at.toISOString(), now.toISOString());
  assert.deepEqual(sent!.data, {
    message_id: m.id, delivery_id: m.email, channel: 'email', platform: 'email', target: 'to@example.com', target_kind: 'address', status: 'sent', reason: null,
  });
  await recordOutcomes(db.sql, [{ id: m.sms, status: 'failed', reason: 'rejected: 21211', attempts: 2 }], now);
  // A repeated outcome moves nothing and writes nothing.
  await recordOutcomes(db.sql, [{ id: m.sms, status: 'failed', reason: 'again', attempts: 3 }], now);
  const failed = (await events()).filter((e) => e.type === 'message.failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.data.channel, 'sms');
  assert.equal(failed[0]!.data.reason, 'rejected: 21211');
});

test('an SMS status callback\'s delivered is message.delivered; suppressions and opt-outs are their own events', async () => {
  await reset();
  const m = await message();
  await recordOutcomes(db.sql, [{ id: m.sms, status: 'sent', reason: null, attempts: 1 }], now);
  assert.equal(await recordSmsStatus(db.sql, project, { providerMessageId: 'SM1', deliveryId: m.sms, status: 'delivered', reason: null }, now), 'updated');
  await addSuppressions(db.sql, project, [
    { address: 'b@example.com', reason: 'hard_bounce', detail: '550' }, { address: 'c@example.com', reason: 'complaint' },
    { address: 'u@example.com', reason: 'unsubscribed' }, { address: 'm@example.com', reason: 'manual' },
  ], now);
  await addSuppressions(db.sql, project, [{ address: 'b@example.com', reason: 'hard_bounce' }], now); // already listed: no event
  await optOutPhones(db.sql, project, ['+15550003333'], 'provider_21610', now);
  const types = (await events()).map((e) => [e.type, e.deliveries]);
  assert.deepEqual(types.sort(), [
    ['email.bounced', 1], ['email.complained', 1], ['email.unsubscribed', 1], ['message.delivered', 1], ['message.sent', 2], ['sms.opted_out', 1],
  ]);
  const delivered = (await events()).find((e) => e.type === 'message.delivered')!;
  assert.equal(delivered.data.delivery_id, m.sms);
  assert.equal(delivered.data.status, 'delivered');
});

test('a fan-out\'s skips are message.skipped events', async () => {
  await reset();
  await addSuppressions(db.sql, project, [{ address: 'skip@example.com', reason: 'manual' }], now);
  const id = uuidv7();
  await db.sql.begin(async (tx) => {
    await insertMessages(tx, [{ id, projectId: project, groupId: 'g', recipients: { emails: ['skip@example.com'] },
      content: { email: { subject: 's', text: 't', from: 'from@example.com' } } as never, createdAt: now, expiresAt: null }]);
    await fanOutMessages(tx, [id], now);
  });
  const [skipped, ...rest] = await events();
  assert.equal(rest.length, 0);
  assert.equal(skipped!.type, 'message.skipped');
  assert.equal(skipped!.data.message_id, id);
  assert.equal(skipped!.data.status, 'skipped');
});

test('a project without endpoints writes no event', async () => {
  await reset();
  const m = await message(bare);
  await recordOutcomes(db.sql, [{ id: m.email, status: 'sent', reason: null, attempts: 1 }], now);
  await addSuppressions(db.sql, bare, [{ address: 'x@example.com', reason: 'hard_bounce' }], now);
  assert.equal((await events(bare)).length, 0);
  assert.equal((await db.sql`select status from deliveries where id = ${m.email}`)[0]!.status, 'sent');
});

test('events past their retention go, unless an endpoint still has to receive them', async () => {
  await reset();
  await addSuppressions(db.sql, project, [{ address: 'old@example.com', reason: 'hard_bounce' }], now);
  const [e] = await events();
  assert.equal(e!.deliveries, 1);
  const later = new Date(now.getTime() + 1000);
  assert.equal(await deleteOldWebhookEvents(db.sql, later), 0, 'still pending');
  await db.sql`update webhook_deliveries set status = 'succeeded' where event_id = ${e!.id}`;
  assert.equal(await deleteOldWebhookEvents(db.sql, now), 0, 'not older than the cut');
  assert.equal(await deleteOldWebhookEvents(db.sql, later), 1);
  assert.equal((await events()).length, 0);
});
