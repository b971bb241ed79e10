import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { createProject } from './projects.js';
import { optInPhones, optOutPhones, optedOutPhones, recordSmsSends, recordSmsStatus } from './sms.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { recordOutcomes } from './deliveries.js';
import { createEndpoint } from './webhook-endpoints.js';

const { keyring } = testMasterKey();

let db: TestDatabase;
let a: string;
let b: string;
before(async () => {
  db = await testDatabase();
  a = (await createProject(db.sql, 'a', keyring)).project_id;
  b = (await createProject(db.sql, 'b', keyring)).project_id;
});
after(async () => { await db.close(); });

async function delivery(projectId: string): Promise<string> {
  const messageId = randomUUID();
  const id = randomUUID();
  await db.sql`insert into messages (id, project_id, group_id, recipients, content) values (${messageId}, ${projectId}, 'g', '{}'::jsonb, '{"push": {}}'::jsonb)`;
  await db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind) values (${id}, ${messageId}, ${projectId}, 'sms', '+15550001111', 'number')`;
  return id;
}

test('many numbers are checked in one statement, per project', async () => {
  await optOutPhones(db.sql, a, ['+15550000001', '+15550000002'], 'inbound_keyword');
  await optOutPhones(db.sql, b, ['+15550000003'], 'provider_21610');
  const out = await optedOutPhones(db.sql, a, ['+15550000001', '+15550000002', '+15550000003', '+15550000004']);
  assert.deepEqual([...out].sort(), ['+15550000001', '+15550000002']);
  assert.deepEqual([...(await optedOutPhones(db.sql, a, []))], []);
});

test('opting out twice keeps the first source; opting in removes the number for that project only', async () => {
  await optOutPhones(db.sql, a, ['+15550000010'], 'provider_21610');
  await optOutPhones(db.sql, a, ['+15550000010'], 'inbound_keyword');
  await optOutPhones(db.sql, b, ['+15550000010'], 'inbound_keyword');
  const [row] = await db.sql`select source from sms_opt_outs where project_id = ${a} and phone = '+15550000010'`;
  assert.equal(row!.source, 'provider_21610');
  await optInPhones(db.sql, a, ['+15550000010']);
  assert.equal((await optedOutPhones(db.sql, a, ['+15550000010'])).size, 0);
  assert.equal((await optedOutPhones(db.sql, b, ['+15550000010'])).size, 1);
});

test('recordSmsSends stamps SID, segments and encoding, only within its project', async () => {
  const mine = await delivery(a);
  const theirs = await delivery(b);
  await recordSmsSends(db.sql, a, [
    { deliveryId: mine, providerMessageId: 'SM1', segments: 2, encoding: 'GSM-7' },
    { deliveryId: theirs, providerMessageId: 'SM2', segments: 1, encoding: 'UCS-2' },
  ]);
  const rows = await db.sql<{ id: string; provider_message_id: string | null; segments: number | null; encoding: string | null }[]>`
    select id, provider_message_id, segments, encoding from deliveries where id in (${mine}, ${theirs})`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  assert.deepEqual({ ...byId.get(mine) }, { id: mine, provider_message_id: 'SM1', segments: 2, encoding: 'GSM-7' });
  assert.deepEqual({ ...byId.get(theirs) }, { id: theirs, provider_message_id: null, segments: null, encoding: null });
});

test('recordSmsStatus says updated, unchanged or unknown', async () => {
  const id = await delivery(a);
  await recordSmsSends(db.sql, a, [{ deliveryId: id, providerMessageId: 'SM-status', segments: 1, encoding: 'GSM-7' }]);
  assert.equal(await recordSmsStatus(db.sql, a, { providerMessageId: 'SM-status', status: 'sent', reason: null }), 'updated');
  assert.equal(await recordSmsStatus(db.sql, a, { providerMessageId: 'SM-status', status: 'sent', reason: null }), 'unchanged');
  assert.equal(await recordSmsStatus(db.sql, a, { providerMessageId: 'SM-status', status: 'undelivered', reason: '30003' }), 'updated');
  assert.equal(await recordSmsStatus(db.sql, a, { providerMessageId: 'SM-status', status: 'delivered', reason: null }), 'unchanged');
  assert.equal(await recordSmsStatus(db.sql, b, { providerMessageId: 'SM-status', status: 'delivered', reason: null }), 'unknown');
  assert.equal(await recordSmsStatus(db.sql, a, { providerMessageId: 'SM-none', status: 'delivered', reason: null }), 'unknown');
});

test('a callback settles a delivery whose outcome a crash lost (unknown)', async () => {
  const id = await delivery(a);
  await db.sql`update deliveries set status = 'unknown' where id = ${id}`;
  assert.equal(await recordSmsStatus(db.sql, a, { providerMessageId: 'SM-lost', deliveryId: id, status: 'delivered', reason: null }), 'updated');
  const [row] = await db.sql`select status, provider_message_id from deliveries where id = ${id}`;
  assert.deepEqual({ ...row }, { status: 'delivered', provider_message_id: 'SM-lost' });
});

test('the status check takes delivered and undelivered, and still refuses anything else', async () => {
  const id = await delivery(a);
  await db.sql`update deliveries set status = 'undelivered' where id = ${id}`;
  await assert.rejects(db.sql`update deliveries set status = 'bounced' where id = ${id}`, /deliveries_status_check/);
  await assert.rejects(db.sql`update deliveries set encoding = 'ASCII' where id = ${id}`, /check/);
});

test('a delivered callback that beats the worker\'s commit counts the send once, with its message.sent event', async () => {
  const c = (await createProject(db.sql, 'c', keyring)).project_id;
  await createEndpoint(db.sql, keyring, c, { id: randomUUID(), url: 'https://hooks.example.com/h', description: '', eventTypes: [], enabled: true, now: new Date() });
  const group = `race-${randomUUID()}`;
  const messageId = randomUUID();
  const id = randomUUID();
  await db.sql`insert into messages (id, project_id, group_id, recipients, content) values (${messageId}, ${c}, ${group}, '{}'::jsonb, '{"sms": {"text": "hi"}}'::jsonb)`;
  await db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind) values (${id}, ${messageId}, ${c}, 'sms', '+15550002222', 'number')`;
  assert.equal(await recordSmsStatus(db.sql, c, { providerMessageId: 'SM-race', deliveryId: id, status: 'delivered', reason: null }), 'updated');
  // The worker's outcome, committed after the callback: it finds the delivery moved on.
  await recordOutcomes(db.sql, [{ id, status: 'sent', reason: null, attempts: 1 }], new Date());
  const [counts] = await db.sql<{ sent: number; delivered: number }[]>`
    select sum(sent)::int as sent, sum(delivered)::int as delivered from stats_hourly where project_id = ${c} and source_id = ${group}`;
  assert.deepEqual({ ...counts }, { sent: 1, delivered: 1 });
  const events = await db.sql<{ type: string }[]>`
    select type from webhook_events where project_id = ${c} and data->>'delivery_id' = ${id} order by type`;
  assert.deepEqual(events.map((e) => e.type), ['message.delivered', 'message.sent']);
});
