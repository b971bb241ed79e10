/**
 * Campaigns through the scheduler, the fan-out and the send step on a real database, time driven
 * by the test clock: local-time sends across zones and a DST change, recurring occurrences and
 * their per-profile cap, the send rate held by two handlers racing, pause/resume/stop, a fan-out
 * done twice (a redelivered job), targeting re-checked at send time, the A/B split, and the
 * channel chosen by priority.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { testClock } from '../../test/support/clock.js';
import { silentLogger } from '../observability/logger.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import type { Job } from '../queue/queue.js';
import { createProject } from '../store/projects.js';
import { insertCampaign, type Campaign } from '../store/campaigns.js';
import type { CampaignDefinition } from '../domain/campaigns/definition.js';
import { uuidv7 } from '../domain/ids.js';
import { startDueOccurrences } from '../scheduler/campaigns.js';
import { campaignFanoutHandler } from './campaign-fanout.js';
import { campaignSendHandler, outcomeLinkMs } from './campaign-send.js';
import { fanoutHandler } from './fanout.js';
import { deliveryHandler } from './deliver.js';
import { createEvents } from './events.js';
import { createCircuitBreakers } from '../domain/circuit-breaker.js';
import type { DeliveryOutcome } from '../domain/outcome.js';
import type { DeliveryToSend } from '../store/deliveries.js';
import type { ChannelSender } from '../channels/channel.js';
import { topics } from './topics.js';

const log = silentLogger();
const claimNow = { max: 50, leaseMs: 30_000, waitMs: 0 };

async function setup(t: { after(fn: () => Promise<void>): void }, o: { pageSize?: number; batchMax?: number; zone?: string } = {}) {
  const db = await testDatabase();
  t.after(() => db.close());
  const clock = testClock();
  const queue = createPostgresQueue({ sql: db.sql, log, maxAttempts: 5, clock });
  t.after(() => queue.close());
  const { keyring } = testMasterKey();
  const project = await createProject(db.sql, 'campaigns', keyring);
  if (o.zone) await db.sql`update projects set timezone = ${o.zone} where id = ${project.project_id}`;
  const deps = { sql: db.sql, queue, clock, log };
  /** What the provider answers each delivery (delivered unless a test says otherwise), and every call made. */
  const provider = { answer: (_d: DeliveryToSend): DeliveryOutcome => ({ kind: 'delivered' }), calls: [] as DeliveryToSend[] };
  const sender = (channel: string): ChannelSender<string> => ({
    channel, resendIsSafe: true, credentialsFor: async () => 'credentials', accountOf: () => 'account',
    send: async (_c, d) => {
      provider.calls.push(d);
      return provider.answer(d);
    },
  });
  const deliver = (channel: string) => deliveryHandler({
    ...deps, events: createEvents(), sender: sender(channel), breakers: createCircuitBreakers(), claimMs: 30_000, backoff: { baseMs: 1_000, maxMs: 1_000 },
  });
  const handlers: Record<string, (jobs: Job[]) => Promise<void>> = {
    [topics.campaignFanout]: campaignFanoutHandler({ ...deps, pageSize: o.pageSize }),
    [topics.campaignSend]: campaignSendHandler({ ...deps, batchMax: o.batchMax }),
    [topics.fanout]: fanoutHandler(deps),
    [topics.email]: deliver('email'),
    [topics.fcm]: deliver('fcm'),
  };
  /** Runs the scheduler's look and every job due now until none is left. */
  const run = async () => {
    await startDueOccurrences(deps);
    for (let busy = true; busy;) {
      busy = false;
      for (const [topic, handle] of Object.entries(handlers)) {
        const jobs = await queue.claim(topic, claimNow);
        if (jobs.length) {
          busy = true;
          await handle(jobs);
        }
      }
    }
  };
  const campaign = (definition: Partial<CampaignDefinition> & Pick<CampaignDefinition, 'when'>, extra: { sendRate?: number } = {}) => insertCampaign(db.sql, {
    id: uuidv7(clock.now()), projectId: project.project_id, name: 'c', state: 'scheduled', labels: [], sendRate: extra.sendRate ?? null, now: new Date(clock.now()),
    definition: { targeting: {}, channels: ['email'], variants: [{ name: 'default', percent: 100, content: { email: { subject: 'Hi {{ first_name | default: "there" }}', text: 't' } } }], control_percent: 0, ...definition },
  });
  /** Time for the deliveries' retries and the send chain's look for outcomes, then everything due. */
  const settle = async () => {
    clock.advance(outcomeLinkMs);
    await run();
  };
  return { db, sql: db.sql, clock, queue, project, run, settle, campaign, handlers, provider };
}

const profiles = (sql: Sql, projectId: string, rows: { id: string; zone?: string | null; email?: string | null; attributes?: object; language?: string }[]) =>
  sql`insert into profiles (project_id, custom_id, timezone, email, language, attributes)
      select ${projectId}, u.id, u.zone, u.email, u.language, u.attributes from unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.zone ?? null) as string[]}::text[],
        ${rows.map((r) => (r.email === undefined ? `${r.id}@example.com` : r.email)) as string[]}::text[], ${rows.map((r) => r.language ?? null) as string[]}::text[],
        ${rows.map((r) => JSON.stringify(r.attributes ?? {}))}::text[]::jsonb[]) as u(id, zone, email, language, attributes)`;

const ledger = (sql: Sql, c: Campaign) => sql<{ custom_id: string; status: string; reason: string | null; due_at: Date; variant: number; message_id: string | null; occurrence: number }[]>`
  select custom_id, status, reason, due_at, variant, message_id, occurrence from campaign_recipients where campaign_id = ${c.id} order by occurrence, custom_id`;
const outcomes = (sql: Sql, c: Campaign) => sql<{ custom_id: string; status: string; outcome: string | null; outcome_reason: string | null; retryable: boolean; resends: number; message_id: string | null }[]>`
  select custom_id, status, outcome, outcome_reason, retryable, resends, message_id from campaign_recipients where campaign_id = ${c.id} order by occurrence, custom_id`;
const state = async (sql: Sql, c: Campaign) => (await sql<{ state: string }[]>`select state from campaigns where id = ${c.id}`)[0]!.state;

test('a campaign sent now reaches each profile once, personalized, and finishes when every recipient has an outcome', async (t) => {
  const s = await setup(t, { pageSize: 7 });
  await profiles(s.sql, s.project.project_id, Array.from({ length: 30 }, (_, i) => ({ id: `p${String(i).padStart(2, '0')}`, attributes: i % 2 ? { first_name: `N${i}` } : {} })));
  const c = await s.campaign({ when: { type: 'now' } });
  await s.run();
  const rows = await ledger(s.sql, c);
  assert.equal(rows.length, 30);
  assert.ok(rows.every((r) => r.status === 'sent' && r.message_id), JSON.stringify(rows.find((r) => r.status !== 'sent')));
  const deliveries = await s.sql<{ target: string; subject: string }[]>`
    select d.target, m.content->'email'->>'subject' as subject from deliveries d join messages m on m.id = d.message_id where d.project_id = ${s.project.project_id} order by d.target`;
  assert.equal(deliveries.length, 30, 'one email per profile');
  assert.equal(new Set(deliveries.map((d) => d.target)).size, 30);
  assert.equal(deliveries.find((d) => d.target === 'p01@example.com')?.subject, 'Hi N1');
  assert.equal(deliveries.find((d) => d.target === 'p00@example.com')?.subject, 'Hi there');
  // Every email was delivered in that run; the send chain sees it on its next look.
  assert.equal(await state(s.sql, c), 'running');
  await s.settle();
  assert.equal(await state(s.sql, c), 'finished');
  assert.ok((await outcomes(s.sql, c)).every((r) => r.outcome === 'delivered'));
  // Everything again (a redelivered job, a second scheduler): nothing more.
  await s.run();
  assert.equal((await s.sql`select 1 from deliveries`).length, 30);
});

test('a fan-out page done twice writes its rows once, and a stale send link sends nothing', async (t) => {
  const s = await setup(t, { pageSize: 5 });
  await profiles(s.sql, s.project.project_id, Array.from({ length: 12 }, (_, i) => ({ id: `q${String(i).padStart(2, '0')}` })));
  const c = await s.campaign({ when: { type: 'now' } });
  await startDueOccurrences({ sql: s.sql, queue: s.queue, clock: s.clock, log });
  const [first] = await s.queue.claim(topics.campaignFanout, claimNow);
  // The same page's job handled twice, as after a crash between the commit and the ack.
  await s.handlers[topics.campaignFanout]!([first!]);
  await s.handlers[topics.campaignFanout]!([{ ...first!, id: uuidv7() }]);
  const [{ n }] = await s.sql<{ n: number }[]>`select count(*)::int as n from campaign_recipients where campaign_id = ${c.id}` as unknown as [{ n: number }];
  assert.equal(n, 5);
  const [occ] = await s.sql<{ targeted: number; cursor: string }[]>`select targeted, cursor from campaign_occurrences where campaign_id = ${c.id}`;
  assert.deepEqual(occ, { targeted: 5, cursor: 'q04' });
  // A send link that is no longer the live one exits without sending.
  await s.handlers[topics.campaignSend]!([{ id: uuidv7(), topic: topics.campaignSend, payload: { campaign_id: c.id, occurrence: 1, chain: 0 }, attempt: 1, maxAttempts: 5 }]);
  assert.equal((await s.sql`select 1 from campaign_recipients where status <> 'pending'`).length, 0);
  await s.run();
  const rows = await ledger(s.sql, c);
  assert.equal(rows.length, 12);
  assert.ok(rows.every((r) => r.status === 'sent'));
  assert.equal((await s.sql`select 1 from deliveries`).length, 12);
});

test('09:00 local time in each zone across UTC+14 to UTC−12 and a DST change; late zones follow the late policy', async (t) => {
  const s = await setup(t, { zone: 'Europe/Paris' });
  // 2026-03-29 is the day Europe moves to summer time (02:00 → 03:00); New York moved on 8 March.
  const zones = ['Pacific/Kiritimati', 'Asia/Tokyo', 'Europe/Paris', 'America/New_York', 'Etc/GMT+12', null, 'Not/A_Zone'];
  await profiles(s.sql, s.project.project_id, zones.map((z, i) => ({ id: `z${i}`, zone: z })));
  // The campaign starts at 20:00 UTC on the 28th: 10:00 on the 29th in Kiritimati (UTC+14), an hour late.
  s.clock.advance(Date.parse('2026-03-28T20:00:00Z') - s.clock.now());
  const c = await s.campaign({ when: { type: 'local', date: '2026-03-29', time: '09:00', late: { policy: 'send_if_within', within_minutes: 30 } } });
  await s.run();
  const rows = new Map((await ledger(s.sql, c)).map((r) => [r.custom_id, r]));
  assert.equal(rows.get('z0')!.status, 'skipped');
  assert.equal(rows.get('z0')!.reason, 'local_time_passed');
  assert.equal(rows.get('z1')!.due_at.toISOString(), '2026-03-29T00:00:00.000Z', 'Tokyo, UTC+9');
  assert.equal(rows.get('z2')!.due_at.toISOString(), '2026-03-29T07:00:00.000Z', 'Paris after the change, UTC+2');
  assert.equal(rows.get('z3')!.due_at.toISOString(), '2026-03-29T13:00:00.000Z', 'New York in summer time, UTC−4');
  assert.equal(rows.get('z4')!.due_at.toISOString(), '2026-03-29T21:00:00.000Z', 'UTC−12');
  assert.equal(rows.get('z5')!.due_at.toISOString(), '2026-03-29T07:00:00.000Z', 'no zone: the project\'s');
  assert.equal(rows.get('z6')!.due_at.toISOString(), '2026-03-29T07:00:00.000Z', 'an unknown zone: the project\'s');
  assert.ok([...rows.values()].filter((r) => r.custom_id !== 'z0').every((r) => r.status === 'pending'), 'nobody sent before their time');
  // Move to each due time: exactly the recipients due by then are sent.
  const sentAt = async (iso: string) => {
    s.clock.advance(Date.parse(iso) - s.clock.now());
    await s.run();
    return (await ledger(s.sql, c)).filter((r) => r.status === 'sent').map((r) => r.custom_id).sort();
  };
  assert.deepEqual(await sentAt('2026-03-29T00:00:00Z'), ['z1']);
  assert.deepEqual(await sentAt('2026-03-29T07:00:00Z'), ['z1', 'z2', 'z5', 'z6']);
  assert.deepEqual(await sentAt('2026-03-29T12:59:00Z'), ['z1', 'z2', 'z5', 'z6']);
  assert.equal(await state(s.sql, c), 'running');
  assert.deepEqual(await sentAt('2026-03-29T21:00:00Z'), ['z1', 'z2', 'z3', 'z4', 'z5', 'z6']);
  await s.settle();
  assert.equal(await state(s.sql, c), 'finished');
});

test('a recurring campaign plans one occurrence per date and stops sending to a profile at its cap', async (t) => {
  const s = await setup(t);
  await profiles(s.sql, s.project.project_id, [{ id: 'r1' }, { id: 'r2' }]);
  s.clock.advance(Date.parse('2026-06-01T06:00:00Z') - s.clock.now()); // a Monday
  const c = await s.campaign({ when: { type: 'recurring', rule: 'FREQ=DAILY', time: '09:00', local: false, starts: '2026-06-01', count: 4, per_profile_cap: 2 } });
  for (const day of ['01', '02', '03', '04', '05']) {
    // The scheduler plans each occurrence ahead of its time, and its recipients go at 09:00.
    s.clock.advance(Date.parse(`2026-06-${day}T08:55:00Z`) - s.clock.now());
    await s.run();
    const planned = await ledger(s.sql, c);
    assert.ok(planned.every((r) => r.status !== 'sent' || r.due_at.getTime() <= s.clock.now()), 'sent before its time');
    s.clock.advance(Date.parse(`2026-06-${day}T09:00:00Z`) - s.clock.now());
    await s.run();
  }
  const rows = await ledger(s.sql, c);
  assert.deepEqual(rows.map((r) => [r.occurrence, r.custom_id, r.status, r.reason]), [
    [1, 'r1', 'sent', null], [1, 'r2', 'sent', null],
    [2, 'r1', 'sent', null], [2, 'r2', 'sent', null],
    [3, 'r1', 'skipped', 'cap_reached'], [3, 'r2', 'skipped', 'cap_reached'],
    [4, 'r1', 'skipped', 'cap_reached'], [4, 'r2', 'skipped', 'cap_reached'],
  ]);
  assert.equal(await state(s.sql, c), 'finished', 'the series ended after COUNT=4');
});

test('the send rate is held when two send handlers race, and pause, resume and stop do what they say', async (t) => {
  const s = await setup(t);
  await profiles(s.sql, s.project.project_id, Array.from({ length: 100 }, (_, i) => ({ id: `s${String(i).padStart(3, '0')}` })));
  // 1,200 per minute: 20 a second, a bucket of one second's worth.
  const c = await s.campaign({ when: { type: 'now' } }, { sendRate: 1200 });
  await startDueOccurrences({ sql: s.sql, queue: s.queue, clock: s.clock, log });
  await s.handlers[topics.campaignFanout]!(await s.queue.claim(topics.campaignFanout, claimNow));
  const sent = async () => (await s.sql<{ n: number }[]>`select count(*)::int as n from campaign_recipients where campaign_id = ${c.id} and status = 'sent'`)[0]!.n;
  // Two workers' send handlers, each handed the live link in turn, as fast as they can.
  const second = campaignSendHandler({ sql: s.sql, queue: s.queue, clock: s.clock, log });
  const race = async () => {
    for (let i = 0; i < 5; i++) {
      const jobs = await s.queue.claim(topics.campaignSend, claimNow);
      await Promise.all([s.handlers[topics.campaignSend]!(jobs), second(jobs.map((j) => ({ ...j, id: uuidv7() })))]);
    }
  };
  await race();
  assert.equal(await sent(), 20, 'one second\'s worth at the start, however many handlers');
  s.clock.advance(1_000);
  await race();
  assert.equal(await sent(), 40);
  // Paused: time passes, nothing is sent; resumed: it goes on at the rate.
  await s.sql`update campaigns set state = 'paused' where id = ${c.id}`;
  s.clock.advance(1_000);
  await race();
  assert.equal(await sent(), 40);
  await s.sql`update campaigns set state = 'running' where id = ${c.id}`;
  await s.sql.begin(async (tx) => (await import('./campaign-send.js')).enqueueSendLink(tx, s.queue, c.id, 1));
  await race();
  assert.equal(await sent(), 60);
  // Stopped: the rest are skipped with the reason.
  await s.sql`update campaigns set state = 'stopped' where id = ${c.id}`;
  await s.sql.begin(async (tx) => (await import('./campaign-send.js')).enqueueSendLink(tx, s.queue, c.id, 1));
  await race();
  const rows = await ledger(s.sql, c);
  assert.equal(rows.filter((r) => r.status === 'sent').length, 60);
  assert.equal(rows.filter((r) => r.reason === 'campaign_stopped').length, 40);
});

test('targeting is re-checked at send time; channels by priority; one email per address; an A/B split within bounds', async (t) => {
  const s = await setup(t);
  const n = 2_000;
  await profiles(s.sql, s.project.project_id, Array.from({ length: n }, (_, i) => ({ id: `a${String(i).padStart(4, '0')}`, attributes: { tier: 'gold' }, email: i < 3 ? 'shared@example.com' : i === 5 ? null : undefined })));
  // a0010 has a push token: push first for it, email for the rest.
  await s.sql`insert into installations (project_id, install_id, custom_id, platform, push_token) values (${s.project.project_id}, 'i1', 'a0010', 'android', 'tok-a0010')`;
  const c = await s.campaign({
    when: { type: 'local', date: '2030-01-01', time: '09:00' },
    targeting: { query: { attribute: 'tier', eq: 'gold' } },
    channels: ['push', 'email'],
    variants: [
      { name: 'A', percent: 30, content: { push: { title: 'A', body: 'a' }, email: { subject: 'A', text: 'a' } } },
      { name: 'B', percent: 60, content: { push: { title: 'B', body: 'b' }, email: { subject: 'B', text: 'b' } } },
    ],
    control_percent: 10,
  });
  await s.run();
  // Before the send, a0001 leaves the audience and a0002 is deleted.
  await s.sql`update profiles set attributes = '{"tier": "silver"}' where custom_id = 'a0001'`;
  await s.sql`delete from profiles where custom_id = 'a0002'`;
  s.clock.advance(Date.parse('2030-01-02T12:00:00Z') - s.clock.now());
  await s.run();
  const rows = new Map((await ledger(s.sql, c)).map((r) => [r.custom_id, r]));
  const control = [...rows.values()].filter((r) => r.variant === -1);
  // Binomial bounds: 10% of 2,000 is 200 ± 3σ (σ ≈ 13.4); 30/90 of the rest ± 3σ.
  assert.ok(control.length > 160 && control.length < 240, `control ${control.length}`);
  assert.ok(control.every((r) => r.status === 'skipped' && r.reason === 'control_group'));
  const a = [...rows.values()].filter((r) => r.variant === 0).length;
  const share = a / (n - control.length);
  assert.ok(Math.abs(share - 1 / 3) < 3 * Math.sqrt((1 / 3) * (2 / 3) / (n - control.length)), `variant A share ${share}`);
  const reasonOf = (id: string) => (rows.get(id)!.variant === -1 ? 'control_group' : rows.get(id)!.reason);
  if (rows.get('a0001')!.variant !== -1) assert.equal(reasonOf('a0001'), 'left_audience');
  if (rows.get('a0002')!.variant !== -1) assert.equal(reasonOf('a0002'), 'profile_deleted');
  if (rows.get('a0005')!.variant !== -1) assert.equal(reasonOf('a0005'), 'unreachable: push: no installation with push enabled');
  const pushed = await s.sql<{ platform: string; target: string }[]>`select platform, target from deliveries where target = 'tok-a0010'`;
  if (rows.get('a0010')!.variant !== -1) assert.deepEqual(pushed.map((p) => p.platform), ['android'], 'push first when the profile has a token');
  const shared = await s.sql`select 1 from deliveries where target = 'shared@example.com'`;
  assert.equal(shared.length, [0, 1, 2].some((i) => rows.get(`a000${i}`)!.status === 'sent') ? 1 : 0, 'one email to an address several profiles share');
  // The same profile keeps its variant in another campaign occurrence: the hash is (campaign, profile).
  const { assignVariant } = await import('../domain/campaigns/variants.js');
  for (const [id, r] of [...rows].slice(0, 50)) assert.equal(assignVariant({ variants: [30, 60], control: 10 }, c.id, id), r.variant);
});

test('a campaign is finished only once every recipient has a delivery outcome; retry-failed re-sends provider failures once each', async (t) => {
  const s = await setup(t);
  const ids = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6'];
  await profiles(s.sql, s.project.project_id, ids.map((id) => ({ id })));
  await s.sql`insert into email_suppressions (project_id, address, reason) values (${s.project.project_id}, 'o5@example.com', 'unsubscribed')`;
  // o1 delivered at once; o2 after two transient failures; o3 fails every attempt (retries spent);
  // o4's address bounces hard; o5 is suppressed (handed over, skipped by the fan-out); o6 is refused by the provider.
  const attempts = new Map<string, number>();
  s.provider.answer = (d) => {
    const n = (attempts.get(d.target) ?? 0) + 1;
    attempts.set(d.target, n);
    switch (d.target) {
      case 'o2@example.com': return n <= 2 ? { kind: 'retry', reason: '421 try later' } : { kind: 'delivered' };
      case 'o3@example.com': return { kind: 'provider_down', reason: 'connection refused' };
      case 'o4@example.com': return { kind: 'token_invalid', reason: '550 5.1.1 no such user' };
      case 'o6@example.com': return { kind: 'rejected', reason: '554 policy' };
      default: return { kind: 'delivered' };
    }
  };
  const c = await s.campaign({ when: { type: 'now' } });
  await s.run();
  const { campaignCounts } = await import('../store/campaign-ledger.js');
  let counts = await campaignCounts(s.sql, c.id);
  assert.deepEqual({ ...counts.recipients, skipped_by_reason: undefined }, {
    targeted: 6, pending: 0, sent: 6, awaiting: 2, delivered: 1, failed: 2, retryable: 1, skipped: 1, control: 0, skipped_by_reason: undefined,
  });
  assert.deepEqual(counts.recipients.skipped_by_reason, { 'suppressed: unsubscribed': 1 });
  assert.equal(counts.by_variant[0]!.awaiting, 2);
  assert.equal(counts.occurrences[0]!.awaiting, 2);
  // The deliveries carry their recipient.
  const carried = await s.sql<{ custom_id: string | null }[]>`select custom_id from deliveries where target = 'o2@example.com'`;
  assert.deepEqual(carried.map((d) => d.custom_id), ['o2']);

  // Retries run while the send chain looks: not finished while a delivery is still being retried.
  const seen: string[] = [];
  for (let i = 0; i < 10 && (await state(s.sql, c)) !== 'finished'; i++) {
    const awaiting = (await campaignCounts(s.sql, c.id)).recipients.awaiting;
    seen.push(`${await state(s.sql, c)}:${awaiting}`);
    if (awaiting > 0) assert.equal(await state(s.sql, c), 'running', 'finished with a delivery still retrying');
    await s.settle();
  }
  assert.equal(await state(s.sql, c), 'finished', seen.join(' '));
  assert.ok(seen.some((x) => x === 'running:1'), `o3 kept retrying after o2 was delivered: ${seen.join(' ')}`);
  assert.equal(attempts.get('o3@example.com'), 5, 'o3 until the job\'s attempts were spent');
  counts = await campaignCounts(s.sql, c.id);
  assert.deepEqual({ ...counts.recipients, skipped_by_reason: undefined }, {
    targeted: 6, pending: 0, sent: 6, awaiting: 0, delivered: 2, failed: 3, retryable: 2, skipped: 1, control: 0, skipped_by_reason: undefined,
  });
  const before = new Map((await outcomes(s.sql, c)).map((r) => [r.custom_id, r]));
  assert.deepEqual([...before.values()].map((r) => [r.custom_id, r.outcome, r.retryable]), [
    ['o1', 'delivered', false], ['o2', 'delivered', false], ['o3', 'failed', true], ['o4', 'failed', false], ['o5', 'skipped', false], ['o6', 'failed', true],
  ]);
  assert.match(before.get('o4')!.outcome_reason!, /^invalidated: /);

  // Retry-failed: o3 and o6 again, once each; not o4's dead address, not the delivered or the skipped.
  s.provider.answer = () => ({ kind: 'delivered' });
  const calls = s.provider.calls.length;
  const { retryFailedRecipients } = await import('./campaign-send.js');
  const retried = await s.sql.begin((tx) => retryFailedRecipients(tx, s.queue, c.id, 'finished', new Date(s.clock.now())));
  assert.equal(retried, 2);
  assert.equal(await state(s.sql, c), 'running');
  assert.equal(await s.sql.begin((tx) => retryFailedRecipients(tx, s.queue, c.id, 'running', new Date(s.clock.now()))), 0, 'a second call finds nothing to retry');
  await s.run();
  await s.settle();
  assert.deepEqual(s.provider.calls.slice(calls).map((d) => d.target).sort(), ['o3@example.com', 'o6@example.com']);
  const after = await outcomes(s.sql, c);
  assert.deepEqual(after.map((r) => [r.custom_id, r.outcome, r.resends]), [
    ['o1', 'delivered', 0], ['o2', 'delivered', 0], ['o3', 'delivered', 1], ['o4', 'failed', 0], ['o5', 'skipped', 0], ['o6', 'delivered', 1],
  ]);
  assert.notEqual(after.find((r) => r.custom_id === 'o3')!.message_id, before.get('o3')!.message_id, 'sent as a new message');
  assert.equal(await state(s.sql, c), 'finished');
  counts = await campaignCounts(s.sql, c.id);
  assert.equal(counts.recipients.delivered, 4);
  assert.equal(counts.recipients.retryable, 0);
});

test('a campaign\'s hourly counters equal a recount from its deliveries, per variant, and its stats answer them', async (t) => {
  const s = await setup(t);
  const ids = Array.from({ length: 40 }, (_, i) => `v${String(i).padStart(2, '0')}`);
  // x1 has no address: skipped by the send step before any message, counted on the ledger's row.
  await profiles(s.sql, s.project.project_id, [...ids.map((id) => ({ id })), { id: 'x1', email: null }]);
  await s.sql`insert into email_suppressions (project_id, address, reason) values (${s.project.project_id}, 'v03@example.com', 'unsubscribed')`;
  s.provider.answer = (d) => (d.target.startsWith('v1') ? { kind: 'token_invalid', reason: '550 5.1.1 no such user' }
    : d.target.startsWith('v2') ? { kind: 'rejected', reason: '554 policy' } : { kind: 'delivered' });
  const c = await s.campaign({
    when: { type: 'now' },
    variants: [
      { name: 'A', percent: 50, content: { email: { subject: 'A', text: 'a' } } },
      // Renders the same as A: still its own message, counted under its own variant.
      { name: 'B', percent: 50, content: { email: { subject: 'A', text: 'a' } } },
    ],
  });
  await s.run();
  await s.settle();
  const recount = await s.sql<{ variant: string; sent: number; failed: number; skipped: number; bounces: number }[]>`
    select cm.variant,
           count(*) filter (where d.status = 'sent')::int as sent,
           count(*) filter (where d.status in ('failed', 'invalidated', 'expired', 'unknown'))::int as failed,
           count(*) filter (where d.status = 'skipped')::int as skipped,
           count(*) filter (where d.status = 'invalidated')::int as bounces
      from deliveries d join campaign_messages cm on cm.message_id = d.message_id
     where cm.campaign_id = ${c.id} group by cm.variant order by cm.variant`;
  const counted = await s.sql<{ variant: string; sent: number; failed: number; skipped: number; bounces: number }[]>`
    select variant, sum(sent)::int as sent, sum(failed)::int as failed, sum(skipped)::int as skipped, sum(bounces)::int as bounces
      from stats_hourly where project_id = ${s.project.project_id} and source_kind = 'campaign' and source_id = ${c.id} and channel <> ''
     group by variant order by variant`;
  assert.deepEqual(counted, recount);
  assert.deepEqual(recount.map((r) => r.variant), ['0', '1'], 'both variants sent');
  const total = (k: 'sent' | 'failed' | 'skipped' | 'bounces') => counted.reduce((n, r) => n + r[k], 0);
  assert.deepEqual([total('sent'), total('failed'), total('skipped'), total('bounces')], [19, 20, 1, 10], 'v1x bounce, v2x are refused, v03 is suppressed');
  const { postgresStats } = await import('../store/stats.js');
  const buckets = await postgresStats(s.sql).buckets({
    projectId: s.project.project_id, source: { kind: 'campaign', id: c.id }, from: new Date(s.clock.now() - 86_400_000), to: new Date(s.clock.now() + 86_400_000), granularity: 'day', timeZone: 'UTC',
  });
  assert.equal(buckets.reduce((n, b) => n + b.counters.sent, 0), 19);
  const reasons = buckets.reduce<Record<string, number>>((m, b) => ({ ...m, ...b.skippedByReason }), {});
  assert.deepEqual(Object.keys(reasons).sort(), ['suppressed: unsubscribed', 'unreachable: email: no email address'].sort(), JSON.stringify(reasons));
  const [ledgerSkip] = await s.sql<{ variant: string; skipped: number }[]>`
    select variant, skipped::int from stats_hourly where source_id = ${c.id} and channel = ''`;
  const [x1] = await s.sql<{ variant: number }[]>`select variant from campaign_recipients where campaign_id = ${c.id} and custom_id = 'x1'`;
  assert.deepEqual(ledgerSkip, { variant: String(x1!.variant), skipped: 1 });
});

test('a campaign whose push is flagged for the inbox gives each profile reached by push one item, personalized, however many devices', async (t) => {
  const s = await setup(t);
  await profiles(s.sql, s.project.project_id, [{ id: 'ib1', attributes: { first_name: 'Ada' } }, { id: 'ib2' }, { id: 'ib3' }]);
  // ib1 has two devices, ib2 one, ib3 none (it gets the email, and no inbox item).
  await s.sql`insert into installations (project_id, install_id, custom_id, platform, push_token)
    values (${s.project.project_id}, 'ib1-a', 'ib1', 'android', 'tok-ib1-a'), (${s.project.project_id}, 'ib1-b', 'ib1', 'android', 'tok-ib1-b'),
           (${s.project.project_id}, 'ib2-a', 'ib2', 'android', 'tok-ib2-a')`;
  await s.campaign({
    when: { type: 'now' }, channels: ['push', 'email'],
    variants: [{ name: 'default', percent: 100, content: { push: { title: 'Hi {{ first_name | default: "there" }}', body: 'b', inbox: true }, email: { subject: 's', text: 't' } } }],
  });
  await s.run();
  await s.run();
  const items = await s.sql<{ owner: string; title: string }[]>`select owner, title from inbox_items order by owner`;
  assert.deepEqual(items.map((i) => [i.owner, i.title]), [['ib1', 'Hi Ada'], ['ib2', 'Hi there']]);
  const [pushes] = await s.sql<{ n: number }[]>`select count(*)::int as n from deliveries where platform = 'android'`;
  assert.equal(pushes!.n, 3);
});
