/**
 * A recipient's outcome when two delivery batches end its two devices' deliveries at once: the
 * second batch waits for the first's lock on the ledger row and then reads the first's committed
 * delivery, so the row never stays without an outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { eventually } from '../../test/support/eventually.js';
import { createProject } from './projects.js';
import { insertOccurrence } from './campaign-ledger.js';
import { insertCampaignMessages, recordCampaignOutcomes } from './campaign-outcomes.js';
import { recordOutcomes } from './deliveries.js';
import { recordSmsStatus } from './sms.js';

test('two batches ending one recipient\'s two deliveries at once leave it its outcome', async (t) => {
  const db = await testDatabase();
  t.after(() => db.close());
  const { sql } = db;
  const { project_id: p } = await createProject(sql, 'outcomes', testMasterKey().keyring);
  const campaign = randomUUID();
  const planned = new Date('2026-12-01T09:00:00Z');
  const message = randomUUID();
  const [ios, android] = [randomUUID(), randomUUID()];
  await sql.begin(async (tx) => {
    await tx`insert into campaigns (id, project_id, name, state, definition, created_at, updated_at)
             values (${campaign}, ${p}, 'c', 'running', ${tx.json({ when: { type: 'now' } })}, ${planned}, ${planned})`;
    await insertOccurrence(tx, { campaignId: campaign, projectId: p, occurrence: 1, plannedAt: planned, localDate: null });
    await tx`insert into messages (id, project_id, group_id, recipients, content) values (${message}, ${p}, ${'campaign:' + campaign}, ${tx.json({ custom_ids: ['ann'] })}, '{"push": {}}')`;
    await insertCampaignMessages(tx, { campaignId: campaign, occurrence: 1, plannedAt: planned }, [message]);
    await tx`insert into campaign_recipients (campaign_id, occurrence, planned_at, custom_id, variant, due_at, status, channel, message_id, updated_at)
             values (${campaign}, 1, ${planned}, 'ann', 0, ${planned}, 'sent', 'push', ${message}, ${planned})`;
    await tx`insert into deliveries (id, message_id, project_id, platform, target, target_kind, custom_id) values
             (${ios}, ${message}, ${p}, 'ios', 'tok-ios', 'token', 'ann'), (${android}, ${message}, ${p}, 'android', 'tok-android', 'token', 'ann')`;
  });
  const now = new Date('2026-12-01T09:01:00Z');
  const pairs = [{ message_id: message, custom_id: 'ann' }];

  // The first batch fails the iOS delivery and holds the ledger row; the second fails the Android
  // one meanwhile and asks for the row before the first commits.
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let firstWrote = -1;
  let firstReady!: () => void;
  const ready = new Promise<void>((resolve) => { firstReady = resolve; });
  const first = sql.begin(async (tx) => {
    await recordOutcomes(tx, [{ id: ios, status: 'failed', reason: 'gave up', attempts: 5 }], now);
    firstWrote = await recordCampaignOutcomes(tx, { pairs }, now);
    firstReady();
    await held;
  });
  await ready;
  assert.equal(firstWrote, 0, 'the Android delivery is still queued for the first batch');
  const second = sql.begin(async (tx) => {
    await recordOutcomes(tx, [{ id: android, status: 'invalidated', reason: 'Unregistered', attempts: 1 }], now);
    return recordCampaignOutcomes(tx, { pairs }, now);
  });
  // The second waits on the row's lock; then the first commits.
  await eventually(async () => {
    const [w] = await sql`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
    return w ? true : undefined;
  }, 10_000, 'the second batch to wait for the ledger row');
  release();
  await first;
  assert.equal(await second, 1);
  const [row] = await sql<{ outcome: string; retryable: boolean; outcome_reason: string }[]>`
    select outcome, retryable, outcome_reason from campaign_recipients where campaign_id = ${campaign}`;
  assert.equal(row!.outcome, 'failed');
  assert.equal(row!.retryable, true, 'one of its deliveries failed at the provider');
  assert.match(row!.outcome_reason, /^failed: gave up/);
});

test('a text the carrier refuses after Twilio took it turns its recipient from delivered to failed, in the callback\'s transaction', async (t) => {
  const db = await testDatabase();
  t.after(() => db.close());
  const { sql } = db;
  const { project_id: p } = await createProject(sql, 'sms-outcomes', testMasterKey().keyring);
  const campaign = randomUUID();
  const planned = new Date('2026-12-01T09:00:00Z');
  const message = randomUUID();
  const [bob, eve] = [randomUUID(), randomUUID()];
  await sql.begin(async (tx) => {
    await tx`insert into campaigns (id, project_id, name, state, definition, created_at, updated_at)
             values (${campaign}, ${p}, 'c', 'running', ${tx.json({ when: { type: 'now' } })}, ${planned}, ${planned})`;
    await insertOccurrence(tx, { campaignId: campaign, projectId: p, occurrence: 1, plannedAt: planned, localDate: null });
    await tx`insert into messages (id, project_id, group_id, recipients, content) values (${message}, ${p}, ${'campaign:' + campaign}, ${tx.json({ custom_ids: ['bob', 'eve'] })}, '{"sms": {"text": "hi"}}')`;
    await insertCampaignMessages(tx, { campaignId: campaign, occurrence: 1, plannedAt: planned }, [message]);
    await tx`insert into campaign_recipients (campaign_id, occurrence, planned_at, custom_id, variant, due_at, status, channel, message_id, updated_at)
             select ${campaign}, 1, ${planned}, c, 0, ${planned}, 'sent', 'sms', ${message}, ${planned} from unnest(array['bob', 'eve']) c`;
    await tx`insert into deliveries (id, message_id, project_id, platform, target, target_kind, custom_id, provider_message_id) values
             (${bob}, ${message}, ${p}, 'sms', '+15550000001', 'number', 'bob', 'SM-bob'), (${eve}, ${message}, ${p}, 'sms', '+15550000002', 'number', 'eve', 'SM-eve')`;
  });
  const now = new Date('2026-12-01T09:01:00Z');
  // Twilio accepted both: both recipients are delivered (sent, as far as anyone knows).
  await sql.begin(async (tx) => {
    await recordOutcomes(tx, [bob, eve].map((id) => ({ id, status: 'sent' as const, reason: null, attempts: 1 })), now);
    assert.equal(await recordCampaignOutcomes(tx, { pairs: [{ message_id: message, custom_id: 'bob' }, { message_id: message, custom_id: 'eve' }] }, now), 2);
  });
  const outcomes = async () => Object.fromEntries((await sql<{ custom_id: string; outcome: string; outcome_reason: string | null; retryable: boolean }[]>`
    select custom_id, outcome, outcome_reason, retryable from campaign_recipients where campaign_id = ${campaign} order by custom_id`).map((r) => [r.custom_id, r]));
  assert.equal((await outcomes()).bob!.outcome, 'delivered');

  // The carrier's receipts: Bob's text confirmed, Eve's refused (30003: unreachable handset).
  assert.equal(await recordSmsStatus(sql, p, { providerMessageId: 'SM-bob', status: 'delivered', reason: null }, now), 'updated');
  assert.equal(await recordSmsStatus(sql, p, { providerMessageId: 'SM-eve', status: 'undelivered', reason: '30003' }, now), 'updated');
  const after = await outcomes();
  assert.equal(after.bob!.outcome, 'delivered');
  assert.deepEqual({ ...after.eve }, { custom_id: 'eve', outcome: 'failed', outcome_reason: 'undelivered: 30003', retryable: false });
  // A repeated callback changes nothing.
  assert.equal(await recordSmsStatus(sql, p, { providerMessageId: 'SM-eve', status: 'undelivered', reason: '30003' }, now), 'unchanged');
});
