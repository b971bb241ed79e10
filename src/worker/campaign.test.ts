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
import { campaignSendHandler } from './campaign-send.js';
import { fanoutHandler } from './fanout.js';
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
  const handlers: Record<string, (jobs: Job[]) => Promise<void>> = {
    [topics.campaignFanout]: campaignFanoutHandler({ ...deps, pageSize: o.pageSize }),
    [topics.campaignSend]: campaignSendHandler({ ...deps, batchMax: o.batchMax }),
    [topics.fanout]: fanoutHandler(deps),
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
  return { db, sql: db.sql, clock, queue, project, run, campaign, handlers };
}

const profiles = (sql: Sql, projectId: string, rows: { id: string; zone?: string | null; email?: string | null; attributes?: object; language?: string }[]) =>
  sql`insert into profiles (project_id, custom_id, timezone, email, language, attributes)
      select ${projectId}, u.id, u.zone, u.email, u.language, u.attributes from unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.zone ?? null) as string[]}::text[],
        ${rows.map((r) => (r.email === undefined ? `${r.id}@example.com` : r.email)) as string[]}::text[], ${rows.map((r) => r.language ?? null) as string[]}::text[],
        ${rows.map((r) => JSON.stringify(r.attributes ?? {}))}::text[]::jsonb[]) as u(id, zone, email, language, attributes)`;

const ledger = (sql: Sql, c: Campaign) => sql<{ custom_id: string; status: string; reason: string | null; due_at: Date; variant: number; message_id: string | null; occurrence: number }[]>`
  select custom_id, status, reason, due_at, variant, message_id, occurrence from campaign_recipients where campaign_id = ${c.id} order by occurrence, custom_id`;
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
  assert.equal(await state(s.sql, c), 'finished');
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
