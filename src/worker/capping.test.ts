import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { testDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { testClock, type TestClock } from '../../test/support/clock.js';
import { silentLogger } from '../observability/logger.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import type { Job, WorkQueue } from '../queue/queue.js';
import { insertCampaign } from '../store/campaigns.js';
import type { CampaignDefinition } from '../domain/campaigns/definition.js';
import { startDueOccurrences } from '../scheduler/campaigns.js';
import { campaignFanoutHandler } from './campaign-fanout.js';
import { campaignSendHandler } from './campaign-send.js';
import { createProject } from '../store/projects.js';
import { insertMessages, type NewMessage } from '../store/messages.js';
import { insertRule, setQuietHours, type CappingRuleInput } from '../store/capping.js';
import { uuidv7 } from '../domain/ids.js';
import { fanoutHandler } from './fanout.js';
import { topics } from './topics.js';

const claimNow = { max: 10, leaseMs: 60_000, waitMs: 0 };
const hour = 3_600_000;

const rule = (r: Partial<CappingRuleInput>): CappingRuleInput => ({
  name: 'one a day', scope: 'all', label: null, channels: [], max_sends: 1, window_amount: 1, window_unit: 'days',
  action: 'skip', max_delay_minutes: null, enabled: true, ...r,
});

async function setup(t: { after(fn: () => Promise<void>): void }, clock: TestClock = testClock()) {
  const db = await testDatabase();
  t.after(() => db.close());
  const queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5, clock });
  t.after(() => queue.close());
  const project = await createProject(db.sql, 'capping', testMasterKey().keyring);
  const handler = fanoutHandler({ sql: db.sql, queue, log: silentLogger(), clock });
  const message = (groupId: string, customIds: string[], content: NewMessage['content'] = { email: { subject: 's', text: 't' } }, createdAt = new Date(clock.now())): NewMessage => ({
    id: uuidv7(createdAt.getTime()), projectId: project.project_id, groupId, recipients: { custom_ids: customIds }, content, createdAt, expiresAt: null,
  });
  const submit = async (ms: NewMessage[]) => db.sql.begin(async (tx) => {
    await insertMessages(tx, ms);
    await queue.enqueue(tx, ms.map((m) => ({ topic: topics.fanout, payload: { message_id: m.id } })));
  });
  return { db, queue, project, handler, message, submit, clock };
}

/** Claims and fans out fan-out jobs until none is due, `workers` claim loops at once. */
async function drain(queue: WorkQueue, handler: ReturnType<typeof fanoutHandler>, workers = 1) {
  await Promise.all(Array.from({ length: workers }, async () => {
    for (;;) {
      const jobs = await queue.claim(topics.fanout, claimNow);
      if (!jobs.length) return;
      await handler(jobs);
    }
  }));
}

const queuedFor = (sql: Sql, customId: string) => sql<{ message_id: string; target: string; status: string; reason: string | null }[]>`
  select d.message_id, d.target, d.status, d.reason from deliveries d
  where d.target in (select email from profiles where custom_id = ${customId} union select push_token from installations where custom_id = ${customId})
  order by d.id`;

test('2 campaigns and 500 transactional sends racing for 1,000 profiles under a 1-per-day cap: every profile gets exactly one', async (t) => {
  const clock = testClock();
  const { db, queue, project, handler, message, submit } = await setup(t, clock);
  const pid = project.project_id;
  await insertRule(db.sql, pid, uuidv7(), rule({}), clock.now());
  const ids = Array.from({ length: 1000 }, (_, i) => 'p' + String(i).padStart(4, '0'));
  await db.sql`insert into profiles (project_id, custom_id, email) select ${pid}, id, id || '@example.com' from unnest(${ids}::text[]) id`;
  // A third of them on three phones: a message reaching all three counts once.
  await db.sql`insert into installations (project_id, install_id, custom_id, platform, push_token)
    select ${pid}, id || '-' || n, id, 'ios', 'tok-' || id || '-' || n from unnest(${ids.filter((_, i) => i % 3 === 0)}::text[]) id, generate_series(1, 3) n`;

  // Two real campaigns over everyone, sent now through the scheduler, the ledger's fan-out and the
  // send step (100 recipients per link), while 500 transactional sends of two profiles each (push
  // and email) arrive in bursts, and six workers take whatever job is due on every topic.
  const deps = { sql: db.sql, queue, clock, log: silentLogger() };
  const handlers: [string, (jobs: Job[]) => Promise<void>][] = [
    [topics.campaignFanout, campaignFanoutHandler({ ...deps, pageSize: 250 })],
    [topics.campaignSend, campaignSendHandler({ ...deps, batchMax: 100 })],
    [topics.fanout, handler],
  ];
  const definition = { targeting: {}, channels: ['email'], variants: [{ name: 'default', percent: 100, content: { email: { subject: 's', text: 't' } } }], control_percent: 0, when: { type: 'now' } } as CampaignDefinition;
  for (const [name, labels] of [['spring', ['promo']], ['news', []]] as const) {
    await insertCampaign(db.sql, { id: uuidv7(clock.now()), projectId: pid, name, state: 'scheduled', labels: [...labels], sendRate: null, now: new Date(clock.now()), definition });
  }
  await startDueOccurrences(deps);
  const both: NewMessage['content'] = { push: { title: 'hi', body: 'b' }, email: { subject: 's', text: 't' } };
  const receipts = Array.from({ length: 500 }, (_, i) => message('receipts', [ids[(i * 7) % 1000]!, ids[(i * 7 + 500) % 1000]!], both));
  let submitting = true;
  const arrivals = (async () => {
    for (let i = 0; i < receipts.length; i += 25) await submit(receipts.slice(i, i + 25));
    submitting = false;
  })();
  const worker = async () => {
    for (let idle = 0; idle < 3 || submitting;) {
      let busy = false;
      for (const [topic, handle] of handlers) {
        const jobs = await queue.claim(topic, claimNow);
        if (!jobs.length) continue;
        busy = true;
        // As the consumer does: a job whose transaction the database aborted (the campaign steps
        // can deadlock with one another under concurrent workers) is retried.
        await handle(jobs).catch(async (err: { code?: string }) => {
          if (err.code !== '40P01') throw err;
          for (const job of jobs) await queue.retry(job, 0, String(err));
        });
      }
      idle = busy ? 0 : idle + 1;
    }
  };
  await Promise.all([arrivals, ...Array.from({ length: 6 }, worker)]);

  const [notFannedOut] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages where fanned_out_at is null`;
  assert.equal(notFannedOut!.n, 0, 'every message was fanned out');
  const [sentByCampaigns] = await db.sql<{ n: number }[]>`select count(*)::int as n from campaign_recipients where status = 'sent'`;
  assert.equal(sentByCampaigns!.n, 2000, 'both campaigns handed every profile to the pipeline');
  // Per profile: the messages with a queued delivery to any of its targets.
  const perProfile = await db.sql<{ custom_id: string; messages: number; reservations: number }[]>`
    with owned as (
      select custom_id, email as target from profiles where project_id = ${pid}
      union all select custom_id, push_token from installations where project_id = ${pid}
    )
    select o.custom_id, count(distinct d.message_id) filter (where d.status = 'queued')::int as messages,
           (select count(*)::int from capping_sends s where s.project_id = ${pid} and s.custom_id = o.custom_id) as reservations
    from owned o left join deliveries d on d.target = o.target group by o.custom_id`;
  assert.equal(perProfile.length, 1000);
  const wrong = perProfile.filter((p) => p.messages !== 1 || p.reservations !== 1);
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} profiles did not get exactly one message`);
  // The profile's other sends were skipped, and say why. (Which sender wins a profile depends on
  // the interleaving: sometimes the receipts win them all.)
  const reasons = await db.sql<{ reason: string }[]>`select distinct reason from deliveries where status = 'skipped'`;
  assert.deepEqual(reasons.map((r) => r.reason), ['capped: one a day']);
  const [campaignSkips] = await db.sql<{ n: number }[]>`
    select count(distinct d.message_id)::int as n from deliveries d join messages m on m.id = d.message_id
    where d.status = 'skipped' and m.group_id like 'campaign:%'`;
  assert.ok(campaignSkips!.n > 0, 'the campaigns raced for profiles others had won');
  // A message to a three-phone profile reaches every phone, counted once.
  const p0 = (await queuedFor(db.sql, 'p0000')).filter((d) => d.status === 'queued');
  assert.equal(new Set(p0.map((d) => d.message_id)).size, 1);
  assert.ok([1, 4].includes(p0.length), `p0000's one message reached ${p0.length} targets`);
});

test('1,020 fan-outs of campaign-shaped and transactional messages on six workers, 1,000 profiles, a 1-per-day cap: every profile gets exactly one', async (t) => {
  const { db, queue, project, handler, message, submit, clock } = await setup(t);
  const pid = project.project_id;
  await insertRule(db.sql, pid, uuidv7(), rule({}), clock.now());
  const ids = Array.from({ length: 1000 }, (_, i) => 'p' + String(i).padStart(4, '0'));
  await db.sql`insert into profiles (project_id, custom_id, email) select ${pid}, id, id || '@example.com' from unnest(${ids}::text[]) id`;
  // A third of them on three phones: a message reaching all three counts once.
  await db.sql`insert into installations (project_id, install_id, custom_id, platform, push_token)
    select ${pid}, id || '-' || n, id, 'ios', 'tok-' || id || '-' || n from unnest(${ids.filter((_, i) => i % 3 === 0)}::text[]) id, generate_series(1, 3) n`;

  // The fan-out alone, at its most contended: messages as two campaigns' send steps make them
  // (100 recipients each) and 500 transactional sends of two profiles each, shuffled and all
  // queued before six workers start (the test above races the real campaign steps).
  const campaignA = `campaign:${uuidv7()}`, campaignB = `campaign:${uuidv7()}`;
  const chunks = Array.from({ length: 10 }, (_, i) => ids.slice(i * 100, i * 100 + 100));
  const both: NewMessage['content'] = { push: { title: 'hi', body: 'b' }, email: { subject: 's', text: 't' } };
  const all = [
    ...chunks.map((c) => message(campaignA, c)), ...chunks.map((c) => message(campaignB, c)),
    ...Array.from({ length: 500 }, (_, i) => message('receipts', [ids[(i * 7) % 1000]!, ids[(i * 7 + 500) % 1000]!], both)),
  ].sort(() => Math.random() - 0.5);
  for (let i = 0; i < all.length; i += 50) await submit(all.slice(i, i + 50));

  await drain(queue, handler, 6);

  const [notFannedOut] = await db.sql<{ n: number }[]>`select count(*)::int as n from messages where fanned_out_at is null`;
  assert.equal(notFannedOut!.n, 0, 'every message was fanned out');
  // Per profile: the messages with a queued delivery to any of its targets.
  const perProfile = await db.sql<{ custom_id: string; messages: number; reservations: number }[]>`
    with owned as (
      select custom_id, email as target from profiles where project_id = ${pid}
      union all select custom_id, push_token from installations where project_id = ${pid}
    )
    select o.custom_id, count(distinct d.message_id) filter (where d.status = 'queued')::int as messages,
           (select count(*)::int from capping_sends s where s.project_id = ${pid} and s.custom_id = o.custom_id) as reservations
    from owned o left join deliveries d on d.target = o.target group by o.custom_id`;
  assert.equal(perProfile.length, 1000);
  const wrong = perProfile.filter((p) => p.messages !== 1 || p.reservations !== 1);
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} profiles did not get exactly one message`);
  // The profile's other sends were skipped, and say why.
  const reasons = await db.sql<{ reason: string; n: number }[]>`select reason, count(*)::int as n from deliveries where status = 'skipped' group by reason`;
  assert.deepEqual(reasons.map((r) => r.reason), ['capped: one a day']);
  // One message to a three-phone profile reached all three phones (counted once, delivered thrice).
  const p0 = (await queuedFor(db.sql, 'p0000')).filter((d) => d.status === 'queued');
  assert.equal(new Set(p0.map((d) => d.message_id)).size, 1);
  assert.ok(p0.length === 3 || p0.length === 4 || p0.length === 1, `p0000's one message reached ${p0.length} targets`);
});

test('a deferred message is released at the window\'s edge, and one that cannot go out before its maximum delay is skipped', async (t) => {
  const clock = testClock();
  const { db, queue, project, handler, message, submit } = await setup(t, clock);
  const pid = project.project_id;
  await insertRule(db.sql, pid, uuidv7(), rule({ name: 'one an hour', window_unit: 'hours', action: 'defer', max_delay_minutes: 120 }), clock.now());
  await db.sql`insert into profiles (project_id, custom_id, email) values (${pid}, 'u', 'u@example.com'), (${pid}, 'v', 'v@example.com')`;

  const first = message('g', ['u']);
  await submit([first]);
  await drain(queue, handler);
  const [reserved] = await db.sql<{ sent_at: Date }[]>`select sent_at from capping_sends where custom_id = 'u'`;
  const edge = reserved!.sent_at.getTime() + hour;

  clock.advance(10 * 60_000);
  const second = message('g', ['u', 'v']);
  await submit([second]);
  await drain(queue, handler);
  // v had room and got it at once; u waits, with no delivery row yet.
  assert.deepEqual((await queuedFor(db.sql, 'v')).map((d) => [d.message_id, d.status]), [[second.id, 'queued']]);
  assert.deepEqual((await queuedFor(db.sql, 'u')).map((d) => d.message_id), [first.id]);
  const [deferral] = await db.sql<{ release_at: Date; reason: string }[]>`select release_at, reason from capping_deferrals where message_id = ${second.id} and custom_id = 'u'`;
  assert.equal(deferral!.release_at.getTime(), edge);
  assert.equal(deferral!.reason, 'capped: one an hour');

  // A minute before the edge nothing is due; at the edge the release fans u's share out, once.
  clock.advance(edge - clock.now() - 60_000);
  assert.equal((await queue.claim(topics.fanout, claimNow)).length, 0);
  clock.advance(60_000);
  await drain(queue, handler);
  assert.deepEqual((await queuedFor(db.sql, 'u')).map((d) => [d.message_id, d.status]), [[first.id, 'queued'], [second.id, 'queued']]);
  assert.equal((await db.sql`select 1 from capping_deferrals`).length, 0);
  // A duplicate release job finds nothing left to release.
  await queue.enqueue(db.sql, [{ topic: topics.fanout, payload: { message_id: second.id, release: true } }]);
  await drain(queue, handler);
  assert.equal((await queuedFor(db.sql, 'u')).length, 2);

  // u's window is full again until edge + 1 h; a message made 2 h 10 min before then cannot wait that long.
  const late = message('g', ['u'], undefined, new Date(clock.now() - 70 * 60_000));
  await submit([late]);
  await drain(queue, handler);
  const skipped = (await queuedFor(db.sql, 'u')).filter((d) => d.message_id === late.id);
  assert.deepEqual(skipped.map((d) => [d.status, d.reason]), [['skipped', 'capped: one an hour (no room before the maximum delay)']]);
});

test('quiet hours hold marketing messages in each recipient\'s zone, and never transactional ones', async (t) => {
  const clock = testClock();
  // 14:00 UTC: 23:00 in Tokyo (quiet), 09:00 in New York, 14:00 in the project's zone (UTC).
  clock.advance(Date.parse('2026-12-03T14:00:00Z') - clock.now());
  const { db, queue, project, handler, message, submit } = await setup(t, clock);
  const pid = project.project_id;
  await setQuietHours(db.sql, pid, { start: '22:00', end: '08:00', action: 'defer' });
  await db.sql`insert into profiles (project_id, custom_id, email, timezone) values
    (${pid}, 'tokyo', 'tokyo@example.com', 'Asia/Tokyo'), (${pid}, 'ny', 'ny@example.com', 'America/New_York'),
    (${pid}, 'plain', 'plain@example.com', null), (${pid}, 'kiritimati', 'k@example.com', 'Pacific/Kiritimati')`;

  const campaign = message(`campaign:${uuidv7()}`, ['tokyo', 'ny', 'plain', 'kiritimati']);
  const receipt = message('receipts', ['tokyo']);
  await submit([campaign, receipt]);
  await drain(queue, handler);
  for (const who of ['ny', 'plain']) assert.deepEqual((await queuedFor(db.sql, who)).map((d) => d.message_id), [campaign.id], who);
  assert.deepEqual((await queuedFor(db.sql, 'tokyo')).map((d) => d.message_id), [receipt.id], 'the receipt is exempt');
  const deferrals = await db.sql<{ custom_id: string; release_at: Date }[]>`select custom_id, release_at from capping_deferrals order by custom_id`;
  // Kiritimati (UTC+14) reads 04:00 on 4 December: quiet until 08:00 there, 18:00 UTC.
  assert.deepEqual(deferrals.map((d) => [d.custom_id, d.release_at.toISOString()]), [
    ['kiritimati', '2026-12-03T18:00:00.000Z'], ['tokyo', '2026-12-03T23:00:00.000Z'],
  ]);
  clock.advance(Date.parse('2026-12-03T18:00:00Z') - clock.now());
  await drain(queue, handler);
  assert.deepEqual((await queuedFor(db.sql, 'kiritimati')).map((d) => d.message_id), [campaign.id]);
  assert.deepEqual((await queuedFor(db.sql, 'tokyo')).map((d) => d.message_id), [receipt.id]);
  clock.advance(Date.parse('2026-12-03T23:00:00Z') - clock.now());
  await drain(queue, handler);
  assert.deepEqual((await queuedFor(db.sql, 'tokyo')).map((d) => d.message_id).sort(), [campaign.id, receipt.id].sort());

  // With skip, a campaign in someone's quiet hours skips them with the reason.
  await setQuietHours(db.sql, pid, { start: '22:00', end: '08:00', action: 'skip' });
  clock.advance(Date.parse('2026-12-04T14:00:00Z') - clock.now());
  const again = message(`campaign:${uuidv7()}`, ['tokyo', 'ny']);
  await submit([again]);
  await drain(queue, handler);
  assert.deepEqual((await queuedFor(db.sql, 'tokyo')).filter((d) => d.message_id === again.id).map((d) => [d.status, d.reason]), [['skipped', 'quiet hours']]);
  assert.deepEqual((await queuedFor(db.sql, 'ny')).filter((d) => d.message_id === again.id).map((d) => d.status), ['queued']);
});
