/**
 * Analytics end to end on a real Herald and PostgreSQL (docs/analytics.md): the counters equal a
 * recount from the deliveries after transactional sends (a suppressed address skipped, a hard
 * bounce, accepted mail), a repeated open or click counts once as unique, a tampered click token
 * is a 400 that redirects nowhere, a machine open is counted apart, a push open reported twice
 * counts once, and days are cut at the project's midnight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, eventually, type TestHerald } from '../../../test/support/herald.js';
import { testClock } from '../../../test/support/clock.js';
import { addSuppressions } from '../../store/email-suppressions.js';
import { signTrackingToken } from '../../domain/tracking-token.js';
import { signUnsubscribeToken } from '../../domain/unsubscribe-token.js';
import { recordOutcomes } from '../../store/deliveries.js';
import { insertMessages } from '../../store/messages.js';
import { uuidv7 } from '../../domain/ids.js';
import { statsMetrics } from '../../store/stats-rollup.js';

type Counters = Record<(typeof statsMetrics)[number], number>;

const counters = async (h: TestHerald, where: { source_id?: string } = {}) => {
  const [row] = await h.db.sql<Counters[]>`
    select ${h.db.sql.unsafe(statsMetrics.map((m) => `coalesce(sum(${m}), 0)::int as ${m}`).join(', '))}
      from stats_hourly where project_id = ${h.project.project_id}
      ${where.source_id ? h.db.sql`and source_id = ${where.source_id}` : h.db.sql``}`;
  return row!;
};

async function sendAndSettle(h: TestHerald, group: string, emails: string[]) {
  const r = await h.call('POST', '/v1/transactional/send', { group_id: group, recipients: { emails }, email: { subject: 's', html: '<p><a href="https://example.com/a?x=1&amp;y=2">a</a> <a href="https://example.com/b">b</a></p>' } });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const id = r.body.message_id as string;
  await eventually(async () => {
    const rows = await h.db.sql`select 1 from deliveries where message_id = ${id}`;
    const left = await h.db.sql`select 1 from deliveries where message_id = ${id} and status = 'queued'`;
    return rows.length === emails.length && left.length === 0;
  }, 20_000, 'every delivery final');
  return id;
}

test('transactional sends: the counters equal a recount from the deliveries, and the stats route answers them', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  const sandbox = h.herald.sandbox!.inspectionUrl;
  const fault = await fetch(`${sandbox}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'email', target_prefix: 'gone', status: 550 }) });
  assert.ok(fault.ok, await fault.text());
  await addSuppressions(h.db.sql, h.project.project_id, [{ address: 'blocked@example.com', reason: 'manual' }]);
  await sendAndSettle(h, 'welcome', ['a@example.com', 'b@example.com', 'gone1@example.com', 'blocked@example.com']);
  await sendAndSettle(h, 'welcome', ['c@example.com']);
  await sendAndSettle(h, 'reset', ['d@example.com', 'gone2@example.com']);

  for (const group of ['welcome', 'reset']) {
    const [recount] = await h.db.sql<{ sent: number; failed: number; skipped: number; bounces: number }[]>`
      select count(*) filter (where d.status = 'sent')::int as sent,
             count(*) filter (where d.status in ('failed', 'invalidated', 'expired', 'unknown'))::int as failed,
             count(*) filter (where d.status = 'skipped')::int as skipped,
             count(*) filter (where d.status = 'invalidated' and d.platform = 'email')::int as bounces
        from deliveries d join messages m on m.id = d.message_id where m.group_id = ${group}`;
    const c = await counters(h, { source_id: group });
    assert.deepEqual({ sent: c.sent, failed: c.failed, skipped: c.skipped, bounces: c.bounces }, recount, group);
  }
  assert.deepEqual(await counters(h, { source_id: 'welcome' }).then((c) => [c.sent, c.failed, c.skipped, c.bounces]), [3, 1, 1, 1]);

  const stats = await h.call('GET', '/v1/stats/transactional/welcome?granularity=hour&time_zone=UTC');
  assert.equal(stats.status, 200, JSON.stringify(stats.body));
  assert.equal(stats.body.totals.sent, 3);
  assert.equal(stats.body.totals.skipped, 1);
  assert.deepEqual(stats.body.totals.skipped_by_reason, { 'suppressed: manual': 1 });
  assert.equal(stats.body.totals.bounces, 1);
  assert.equal(stats.body.totals.open_rate, 0);
  const project = await h.call('GET', '/v1/stats/project?time_zone=UTC');
  assert.equal(project.body.totals.sent, 4, 'both groups');
  // Prometheus reads the same rollups: /metrics says what the stats route says.
  const metrics = await (await fetch(h.url + '/metrics')).text();
  assert.match(metrics, /^herald_analytics_sent_total\{source="transactional",channel="email"\} 4$/m);
  assert.match(metrics, /^herald_analytics_bounces_total\{source="transactional",channel="email"\} 2$/m);
  assert.match(metrics, /^herald_analytics_skipped_by_reason_total\{source="transactional",channel="email",reason="suppressed"\} 1$/m);
  assert.equal((await h.call('GET', '/v1/stats/campaigns/00000000-0000-4000-8000-000000000000')).body.error.code, 'campaign_not_found');
  assert.equal((await h.call('GET', '/v1/stats/project?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z')).body.error.code, 'invalid_field');
});

test('opens and clicks: a repeat counts once as unique, a tampered token is a 400 and no redirect, machine opens apart', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  await sendAndSettle(h, 'news', ['reader@example.com']);
  const [d] = await h.db.sql<{ id: string }[]>`select id from deliveries where target = 'reader@example.com'`;
  const secret = h.keyring.secret('unsubscribe links');
  const sign = (s: Parameters<typeof signTrackingToken>[1]) => signTrackingToken(secret, s);
  const base = { projectId: h.project.project_id, deliveryId: d!.id };
  const get = (token: string, ua = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Thunderbird/128.0') =>
    fetch(`${h.url}/r/${token}`, { redirect: 'manual', headers: { 'user-agent': ua } });

  const open = sign({ kind: 'open', ...base });
  for (let i = 0; i < 2; i++) {
    const r = await get(open);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/gif');
  }
  const click = sign({ kind: 'click', ...base, link: 1, url: 'https://example.com/b' });
  for (let i = 0; i < 2; i++) {
    const r = await get(click);
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), 'https://example.com/b');
  }
  assert.equal((await get(sign({ kind: 'click', ...base, link: 0, url: 'https://example.com/a' }))).status, 302);
  // Apple Mail Privacy Protection's fetch: recorded, counted apart.
  assert.equal((await get(open, 'Mozilla/5.0')).status, 200);

  const c = await counters(h);
  assert.deepEqual([c.opens_unique, c.opens_total, c.opens_machine, c.clicks_unique, c.clicks_total], [1, 2, 1, 1, 3]);
  const machine = await h.db.sql`select 1 from engagements where delivery_id = ${d!.id} and kind = 'open' and machine`;
  assert.equal(machine.length, 1);

  // Another URL under a real signature, a cut tag, a foreign secret: 400, no Location, nothing recorded.
  const [payload, tag] = click.split('.') as [string, string];
  const edited = Buffer.from(payload, 'base64url');
  edited.write('https://evil.example/', edited.length - 'https://example.com/b'.length);
  const forged = [
    `${edited.toString('base64url')}.${tag}`,
    `${payload}.${tag.slice(0, -2)}`,
    signTrackingToken(Buffer.alloc(32, 7), { kind: 'click', ...base, link: 1, url: 'https://evil.example/' }),
    'not-a-token',
  ];
  for (const f of forged) {
    const r = await get(f);
    assert.equal(r.status, 400, f);
    assert.equal(r.headers.get('location'), null);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'invalid_tracking_token');
  }
  assert.deepEqual(await counters(h), c, 'nothing moved');
  const stats = await h.call('GET', '/v1/stats/transactional/news?time_zone=UTC');
  assert.equal(stats.body.totals.open_rate, 1);
  assert.equal(stats.body.totals.click_rate, 1);

  // The one-click unsubscribe of this email counts once for its group; a `d` naming another address's delivery counts nothing.
  const unsubscribe = (d: string) => fetch(`${h.url}/v1/email/unsubscribe/${signUnsubscribeToken(secret, h.project.project_id, 'reader@example.com', new Date())}?d=${d}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click',
  });
  assert.equal((await unsubscribe(d!.id)).status, 200);
  assert.equal((await unsubscribe(d!.id)).status, 200);
  assert.equal((await counters(h)).unsubscribes, 1);
});

test('a push open reported twice counts once; an app open within 3 h of a receipt is an influenced open', async (t) => {
  const clock = testClock();
  const h = await startTestHerald({ overrides: { clock } });
  t.after(() => h.close());
  const p = h.project.project_id;
  const message = uuidv7();
  await h.db.sql.begin((tx) => insertMessages(tx, [{ id: message, projectId: p, groupId: 'promo', recipients: { install_ids: ['i1'] }, content: { push: { title: 't', body: 'b' } }, createdAt: new Date(clock.now()), expiresAt: null }]));
  const [d1, d2] = [uuidv7(), uuidv7()];
  await h.db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, install_id, status)
    values (${d1}, ${message}, ${p}, 'android', 'tok1', 'token', 'i1', 'queued'), (${d2}, ${message}, ${p}, 'web', 'https://push.example/x', 'subscription', 'i2', 'queued')`;
  await recordOutcomes(h.db.sql, [{ id: d1, status: 'sent', reason: null, attempts: 1 }, { id: d2, status: 'sent', reason: null, attempts: 1 }], new Date(clock.now()));
  const push = (install: string, events: object[]) => h.call('POST', '/v1/sdk/push-events', { install_id: install, events }, { authorization: `Bearer ${h.project.sdk_key}` });
  const at = new Date(clock.now()).toISOString();
  assert.equal((await push('i1', [{ id: 'r1', type: 'received', delivery_id: d1, time: at }, { id: 'o1', type: 'opened', delivery_id: d1, time: at }])).status, 200);
  // The same open again: once under its id (a retried batch), once under a new id (a second report).
  await push('i1', [{ id: 'o1', type: 'opened', delivery_id: d1, time: at }, { id: 'o2', type: 'opened', delivery_id: d1, time: at }]);
  await push('i2', [{ id: 'r2', type: 'received', delivery_id: d2, time: at }]);
  // An app open 2 h after i2's receipt credits d2; one at 4 h credits nothing more.
  await push('i2', [{ id: 'a1', type: 'app_opened', time: new Date(clock.now() + 2 * 3600_000).toISOString() }]);
  await push('i2', [{ id: 'a2', type: 'app_opened', time: new Date(clock.now() + 2 * 3600_000 + 60_000).toISOString() }]);
  await push('i2', [{ id: 'a3', type: 'app_opened', time: new Date(clock.now() + 4 * 3600_000).toISOString() }]);
  const c = await counters(h);
  assert.deepEqual([c.sent, c.delivered, c.opens_unique, c.opens_total, c.opens_influenced], [2, 2, 1, 1, 1]);
});

test('stats by day in the project\'s time zone are cut at its midnight, and by UTC at UTC\'s', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  const p = h.project.project_id;
  assert.equal((await h.call('PATCH', '/v1/project', { timezone: 'Europe/Paris' })).status, 200);
  const message = uuidv7();
  await h.db.sql.begin((tx) => insertMessages(tx, [{ id: message, projectId: p, groupId: 'night', recipients: { emails: ['x@example.com'] }, content: { email: { subject: 's', text: 't' } }, createdAt: new Date('2026-12-03T20:00:00Z'), expiresAt: null }]));
  const ids = [uuidv7(), uuidv7(), uuidv7()];
  await h.db.sql`insert into deliveries (id, message_id, project_id, platform, target, target_kind, status)
    select id, ${message}, ${p}, 'email', 'x' || n || '@example.com', 'address', 'queued' from unnest(${ids}::uuid[]) with ordinality as u(id, n)`;
  // 22:30 UTC is 23:30 in Paris (UTC+1 in December); 23:30 UTC is 00:30 on the 4th there.
  await recordOutcomes(h.db.sql, [{ id: ids[0]!, status: 'sent', reason: null, attempts: 1 }], new Date('2026-12-03T22:30:00Z'));
  await recordOutcomes(h.db.sql, [{ id: ids[1]!, status: 'sent', reason: null, attempts: 1 }], new Date('2026-12-03T23:30:00Z'));
  await recordOutcomes(h.db.sql, [{ id: ids[2]!, status: 'sent', reason: null, attempts: 1 }], new Date('2026-12-04T23:10:00Z'));
  const range = 'from=2026-12-01T00:00:00Z&to=2026-12-06T00:00:00Z&granularity=day';
  const paris = await h.call('GET', `/v1/stats/transactional/night?${range}`);
  assert.equal(paris.status, 200, JSON.stringify(paris.body));
  assert.equal(paris.body.time_zone, 'Europe/Paris');
  assert.deepEqual(paris.body.buckets.map((b: { local: string; start: string; sent: number }) => [b.local, b.start, b.sent]),
    [['2026-12-03', '2026-12-02T23:00:00.000Z', 1], ['2026-12-04', '2026-12-03T23:00:00.000Z', 1], ['2026-12-05', '2026-12-04T23:00:00.000Z', 1]]);
  const utc = await h.call('GET', `/v1/stats/transactional/night?${range}&time_zone=UTC`);
  assert.deepEqual(utc.body.buckets.map((b: { local: string; sent: number }) => [b.local, b.sent]), [['2026-12-03', 2], ['2026-12-04', 1]]);
  assert.equal(utc.body.totals.sent, 3);
});
