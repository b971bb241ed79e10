/**
 * POST /v1/email/feedback on a whole Herald and real PostgreSQL: a campaign's emails sent through
 * the SMTP sandbox, then DSNs (RFC 3464) and ARF reports (RFC 5965) about them posted as raw
 * multipart/report messages. A hard bounce and a complaint suppress their address, emit their
 * webhook event and move the campaign's counters, each once however often the report is posted; a
 * soft bounce is recorded and counts nothing; a report without Herald's Message-ID falls back to
 * the last email to its address; a malformed one is a 400 that changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, eventually, type TestHerald } from '../../../test/support/herald.js';
import { arf, dsn } from '../../../test/support/feedback-reports.js';
import { createProject } from '../../store/projects.js';

const post = (h: TestHerald, raw: string, headers: Record<string, string> = { 'content-type': 'message/rfc822' }) =>
  h.call('POST', '/v1/email/feedback', raw, headers);

const messageIdOf = (deliveryId: string) => `<${deliveryId}@herald.example.com>`;

/** Everything a report may change, to show a refused one changed nothing. */
const footprint = async (h: TestHerald) => (await h.db.sql`
  select (select count(*) from email_suppressions)::int as suppressions, (select count(*) from engagements)::int as engagements,
         (select coalesce(sum(count), 0) from engagements)::int as reports, (select count(*) from webhook_events)::int as events,
         (select coalesce(sum(bounces + complaints), 0) from stats_hourly)::int as counted`)[0];

async function settled(h: TestHerald, where: { messageId?: string; campaignId?: string }, n: number): Promise<Map<string, string>> {
  let rows: { id: string; target: string }[] = [];
  await eventually(async () => {
    rows = await h.db.sql<{ id: string; target: string; status: string }[]>`
      select d.id, d.target, d.status from deliveries d join messages m on m.id = d.message_id
       where ${where.campaignId ? h.db.sql`m.group_id = ${'campaign:' + where.campaignId}` : h.db.sql`m.id = ${where.messageId!}`}
         and d.status <> 'queued'`;
    return rows.length === n;
  }, 30_000, `${n} deliveries final`);
  return new Map(rows.map((r) => [r.target, r.id]));
}

async function withEndpoint(h: TestHerald) {
  const ep = await h.call('POST', '/v1/webhooks', { url: 'https://hooks.example.com/herald', event_types: ['email.bounced', 'email.complained'] });
  assert.equal(ep.status, 201, JSON.stringify(ep.body));
}

const events = (h: TestHerald) => h.db.sql<{ type: string; data: Record<string, string | null> }[]>`
  select type, data from webhook_events where project_id = ${h.project.project_id} order by created_at, type`;

test('a campaign\'s bounce, complaint and soft bounce: suppressed, evented and counted once each, however often posted', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  await withEndpoint(h);
  const pid = h.project.project_id;
  await h.db.sql`insert into profiles (project_id, custom_id, email) values
    (${pid}, 'ann', 'ann@example.com'), (${pid}, 'bob', 'bob@example.com'), (${pid}, 'cat', 'cat@example.com')`;
  const created = await h.call('POST', '/v1/campaigns', {
    name: 'News', when: { type: 'now' }, targeting: {}, channels: ['email'], content: { email: { subject: 'News', text: 'Hello' } },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const campaignId = created.body.id as string;
  assert.equal((await h.call('POST', `/v1/campaigns/${campaignId}/start`)).status, 200);
  const sent = await settled(h, { campaignId }, 3);
  const ann = sent.get('ann@example.com')!;
  const bob = sent.get('bob@example.com')!;
  const cat = sent.get('cat@example.com')!;

  const bounce = dsn({ recipients: [{ final: 'ann@example.com', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' }], messageId: messageIdOf(ann) });
  const complaint = arf({ rcptTo: 'bob@example.com', messageId: messageIdOf(bob) });
  const soft = dsn({ recipients: [{ final: 'cat@example.com', action: 'delayed', status: '4.2.2', diagnostic: '452 mailbox full' }], messageId: messageIdOf(cat), returned: 'headers' });
  for (const round of [1, 2]) {
    const b = await post(h, bounce);
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.deepEqual(b.body, { report_type: 'delivery-status', results: [{ kind: 'bounce', address: 'ann@example.com', delivery_id: ann, new: round === 1 }] });
    const c = await post(h, complaint);
    assert.deepEqual(c.body, { report_type: 'feedback-report', results: [{ kind: 'complaint', address: 'bob@example.com', delivery_id: bob, new: round === 1 }] });
    const s = await post(h, soft);
    assert.deepEqual(s.body, { report_type: 'delivery-status', results: [{ kind: 'soft_bounce', address: 'cat@example.com', delivery_id: cat, new: round === 1 }] });
  }

  // The campaign's counters moved once each, read through the stats route.
  const stats = await h.call('GET', `/v1/stats/campaigns/${campaignId}?time_zone=UTC`);
  assert.equal(stats.status, 200, JSON.stringify(stats.body));
  assert.deepEqual([stats.body.totals.sent, stats.body.totals.bounces, stats.body.totals.complaints], [3, 1, 1]);

  const list = await h.call('GET', '/v1/email/suppressions');
  assert.deepEqual(list.body.suppressions.map((s: { address: string; reason: string; detail: string }) => [s.address, s.reason, s.detail]), [
    ['ann@example.com', 'hard_bounce', '5.1.1 smtp; 550 5.1.1 user unknown'],
    ['bob@example.com', 'complaint', 'feedback-type abuse'],
  ]);
  assert.deepEqual((await events(h)).map((e) => [e.type, e.data.address, e.data.delivery_id ?? null]), [
    ['email.bounced', 'ann@example.com', ann],
    ['email.complained', 'bob@example.com', bob],
  ]);
  const recorded = await h.db.sql<{ kind: string; count: number; detail: string }[]>`
    select kind, count, detail from engagements where project_id = ${pid} order by kind`;
  assert.deepEqual(recorded.map((r) => [r.kind, r.count, r.detail]), [
    ['bounce', 2, '5.1.1 smtp; 550 5.1.1 user unknown'],
    ['complaint', 2, 'feedback-type abuse'],
    ['soft_bounce', 2, '4.2.2 smtp; 452 mailbox full'],
  ]);

  // A later campaign skips the suppressed addresses, and mails the soft-bounced one.
  const again = await h.call('POST', '/v1/campaigns', {
    name: 'News 2', when: { type: 'now' }, targeting: {}, channels: ['email'], content: { email: { subject: 'News', text: 'Hello again' } },
  });
  await h.call('POST', `/v1/campaigns/${again.body.id as string}/start`);
  await settled(h, { campaignId: again.body.id as string }, 3);
  const outcomes = await h.db.sql<{ target: string; status: string; reason: string | null }[]>`
    select d.target, d.status, d.reason from deliveries d join messages m on m.id = d.message_id
     where m.group_id = ${'campaign:' + (again.body.id as string)} order by d.target`;
  assert.deepEqual(outcomes.map((r) => [r.target, r.status, r.reason]), [
    ['ann@example.com', 'skipped', 'suppressed: hard_bounce'], ['bob@example.com', 'skipped', 'suppressed: complaint'], ['cat@example.com', 'sent', null],
  ]);
});

test('without Herald\'s Message-ID a report is tied to the last email to its address, else only suppresses it; a bounce counted at RCPT is not counted again', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  await withEndpoint(h);
  const fault = await fetch(`${h.herald.sandbox!.inspectionUrl}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'email', target_prefix: 'gone', status: 550 }),
  });
  assert.ok(fault.ok, await fault.text());
  const send = async (emails: string[]) => {
    const r = await h.call('POST', '/v1/transactional/send', { group_id: 'receipts', recipients: { emails }, email: { subject: 's', text: 't' } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return settled(h, { messageId: r.body.message_id as string }, emails.length);
  };
  await send(['dan@example.com']);
  const latest = (await send(['Dan@Example.com', 'gone@example.com']));
  const dan = latest.get('dan@example.com')!;
  const gone = latest.get('gone@example.com')!;
  const statuses = await h.db.sql<{ target: string; status: string }[]>`select target, status from deliveries where id = any(${[dan, gone]}::uuid[]) order by target`;
  assert.deepEqual(statuses.map((r) => [r.target, r.status]), [['dan@example.com', 'sent'], ['gone@example.com', 'invalidated']]);
  const counted = async () => (await h.db.sql<{ bounces: number }[]>`
    select coalesce(sum(bounces), 0)::int as bounces from stats_hourly where source_id = 'receipts'`)[0]!.bounces;
  assert.equal(await counted(), 1, 'gone@ was refused at RCPT: counted then');

  // No original returned: the recipient's address finds the last email to it.
  const r1 = await post(h, dsn({ recipients: [{ final: 'DAN@example.com', action: 'failed', status: '5.7.1' }], returned: 'none' }));
  assert.deepEqual(r1.body.results, [{ kind: 'bounce', address: 'dan@example.com', delivery_id: dan, new: true }]);
  assert.equal(await counted(), 2);
  // A DSN for the delivery already refused at RCPT is recorded, and counts nothing more.
  const r2 = await post(h, dsn({ recipients: [{ final: 'gone@example.com', action: 'failed', status: '5.1.1' }], messageId: messageIdOf(gone) }));
  assert.deepEqual(r2.body.results, [{ kind: 'bounce', address: 'gone@example.com', delivery_id: gone, new: true }]);
  assert.equal(await counted(), 2);
  // An address Herald never mailed: suppressed (one event), tied to nothing, counted nowhere.
  for (const fresh of [true, false]) {
    const r3 = await post(h, arf({ rcptTo: 'zed@example.com', messageId: '<8787KJKJ3K4J3K4J3K4J3.mail@example.net>' }));
    assert.deepEqual(r3.body.results, [{ kind: 'complaint', address: 'zed@example.com', delivery_id: null, new: fresh }]);
  }
  assert.deepEqual((await events(h)).map((e) => [e.type, e.data.address, e.data.delivery_id ?? null]), [
    ['email.bounced', 'gone@example.com', null], // at RCPT (channels/email/sender.ts)
    ['email.bounced', 'dan@example.com', dan],
    ['email.complained', 'zed@example.com', null],
  ]);
  assert.equal((await h.db.sql`select coalesce(sum(complaints), 0)::int as n from stats_hourly`)[0]!.n, 0);

  // Another project's key cannot reach these deliveries: its report ties to none of them.
  const other = await createProject(h.db.sql, 'other', h.keyring);
  const before = (await h.db.sql`select count(*)::int as n from engagements`)[0]!.n;
  const foreign = await post(h, dsn({ recipients: [{ final: 'someone@example.com', action: 'failed', status: '5.1.1' }], messageId: messageIdOf(dan) }),
    { 'content-type': 'message/rfc822', authorization: `Bearer ${other.rest_key}` });
  assert.deepEqual(foreign.body.results, [{ kind: 'bounce', address: 'someone@example.com', delivery_id: null, new: true }]);
  assert.equal((await h.db.sql`select count(*)::int as n from engagements`)[0]!.n, before);
  assert.equal((await h.db.sql`select count(*)::int as n from email_suppressions where address = 'someone@example.com' and project_id = ${h.project.project_id}`)[0]!.n, 0);
});

test('a malformed report is a 400 invalid_feedback_report, another media type a 415, no key a 401: nothing changes', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  await withEndpoint(h);
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'g', recipients: { emails: ['eve@example.com'] }, email: { subject: 's', text: 't' } });
  const eve = (await settled(h, { messageId: r.body.message_id as string }, 1)).get('eve@example.com')!;
  const start = await footprint(h);
  const malformed = [
    'From: someone@example.com\r\nSubject: I do not want this\r\n\r\nplease stop',
    dsn({ recipients: [{ final: 'eve@example.com', action: 'failed', status: 'bounced' }], messageId: messageIdOf(eve) }),
    dsn({ recipients: [], messageId: messageIdOf(eve) }),
    arf({ feedbackType: '', messageId: messageIdOf(eve) }),
    arf({}),
  ];
  for (const raw of malformed) {
    const res = await post(h, raw);
    assert.equal(res.status, 400, raw.slice(0, 80));
    assert.equal(res.body.error.code, 'invalid_feedback_report');
  }
  const good = dsn({ recipients: [{ final: 'eve@example.com', action: 'failed', status: '5.1.1' }], messageId: messageIdOf(eve) });
  const json = await h.call('POST', '/v1/email/feedback', { raw: good });
  assert.equal(json.status, 415);
  assert.equal(json.body.error.code, 'unsupported_media_type');
  const anonymous = await fetch(`${h.url}/v1/email/feedback`, { method: 'POST', headers: { 'content-type': 'message/rfc822' }, body: good });
  assert.equal(anonymous.status, 401);
  const big = await post(h, good + 'x'.repeat(1024 * 1024));
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'body_too_large');
  assert.deepEqual(await footprint(h), start);
  // A report of successes only, or a feedback type that is no complaint: 200, nothing recorded.
  assert.deepEqual((await post(h, dsn({ recipients: [{ final: 'eve@example.com', action: 'delivered', status: '2.0.0' }] }))).body, { report_type: 'delivery-status', results: [] });
  assert.deepEqual((await post(h, arf({ feedbackType: 'not-spam', messageId: messageIdOf(eve) }))).body, { report_type: 'feedback-report', results: [] });
  assert.deepEqual(await footprint(h), start);
});

test('end to end: the SMTP sandbox accepts a message, keeps the DSN a relay would send, and that DSN posted 8 times at once bounces the delivery once', async (t) => {
  const h = await startTestHerald();
  t.after(() => h.close());
  const sandbox = h.herald.sandbox!.inspectionUrl;
  const fault = await fetch(`${sandbox}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'email', target_prefix: 'later', status: 550, dsn: true }),
  });
  assert.equal(fault.status, 201, await fault.text());
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'digest', recipients: { emails: ['later@example.com', 'fine@example.com'] }, email: { subject: 's', text: 't' } });
  const sent = await settled(h, { messageId: r.body.message_id as string }, 2);
  const statuses = await h.db.sql<{ status: string }[]>`select status from deliveries where message_id = ${r.body.message_id as string} order by target`;
  assert.deepEqual(statuses.map((s) => s.status), ['sent', 'sent'], 'accepted at SMTP time');

  const records = await (await fetch(`${sandbox}/_sandbox/deliveries?channel=email&target=later@example.com`)).json() as { status: number; dsn_base64?: string }[];
  assert.equal(records.length, 1);
  assert.equal(records[0]!.status, 250);
  const report = Buffer.from(records[0]!.dsn_base64!, 'base64').toString('utf8');
  const fine = await (await fetch(`${sandbox}/_sandbox/deliveries?channel=email&target=fine@example.com`)).json() as { dsn_base64?: string }[];
  assert.equal(fine[0]!.dsn_base64, undefined, 'no fault, no DSN');

  // Posted eight times at once (an MTA retrying while another relay forwards the same notice):
  // one of them is new, and the others find its row.
  const posted = await Promise.all(Array.from({ length: 8 }, () => post(h, report)));
  for (const p of posted) assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.deepEqual(posted.map((p) => p.body.results[0].new).sort(), [false, false, false, false, false, false, false, true]);
  assert.deepEqual(posted[0]!.body.results[0].delivery_id, sent.get('later@example.com'));
  assert.equal((await h.db.sql`select count from engagements where kind = 'bounce'`)[0]!.count, 8);
  const stats = await h.call('GET', '/v1/stats/transactional/digest?time_zone=UTC');
  assert.deepEqual([stats.body.totals.sent, stats.body.totals.bounces, stats.body.totals.failed], [2, 1, 0]);
  const list = await h.call('GET', '/v1/email/suppressions');
  assert.deepEqual(list.body.suppressions.map((s: { address: string; reason: string; detail: string }) => [s.address, s.reason, s.detail]), [
    ['later@example.com', 'hard_bounce', '5.1.1 smtp; 550 5.1.1 The email account that you tried to reach does not exist.'],
  ]);
});
