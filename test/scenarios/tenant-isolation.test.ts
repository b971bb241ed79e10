/**
 * Two projects on one Herald with its sandbox: what one project stored (a broken SMS account, push
 * tokens no provider accepts) never changes the outcome of the other's deliveries, even when they
 * share a batch or a provider account. The broken data is written straight into the tables, as data
 * stored before the API checked it would be.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';
import { createProject, type CreatedProject } from '../../src/store/projects.js';
import { saveCredentials } from '../../src/store/provider-credentials.js';
import { insertMessages } from '../../src/store/messages.js';
import { createPostgresQueue } from '../../src/queue/postgres/queue.js';
import type { WorkQueue } from '../../src/queue/queue.js';
import { silentLogger } from '../../src/observability/logger.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { topics } from '../../src/worker/topics.js';

let h: TestHerald;
let b: CreatedProject;
let queue: WorkQueue;
let inspection: string;
before(async () => {
  h = await startTestHerald();
  inspection = h.herald.sandbox!.inspectionUrl;
  b = await createProject(h.db.sql, 'tenant-b', h.keyring);
  queue = createPostgresQueue({ sql: h.db.sql, log: silentLogger(), maxAttempts: 5 });
});
after(async () => { await queue.close(); await h.close(); });

const simulatorRecords = async (channel: string, target: string) =>
  (await (await fetch(`${inspection}/_sandbox/deliveries?channel=${channel}&target=${encodeURIComponent(target)}`)).json()) as unknown[];
const statuses = async (ids: string[]) =>
  h.db.sql<{ id: string; status: string; reason: string | null }[]>`select id, status, reason from deliveries where id = any(${ids}::uuid[])`;

test('a batch mixing one project\'s SMS with another\'s broken account: each delivery gets its own outcome', async () => {
  // B's account names the simulator over plain http: a base_url the API refuses today, stored before it did.
  const sim = h.herald.sandbox!;
  const sms = sim.credentials.sms;
  await saveCredentials(h.db.sql, h.keyring, b.project_id, 'sms', {
    account_sid: sms.account_sid, auth_token: sms.auth_token, base_url: sim.endpoints.sms.replace(/^https:/, 'http:'), from: '+15005550006',
  });
  const refused = await h.call('PUT', '/v1/providers/sms', {
    account_sid: sms.account_sid, auth_token: sms.auth_token, base_url: sim.endpoints.sms.replace(/^https:/, 'http:'), from: '+15005550006',
  }, { authorization: `Bearer ${b.rest_key}` });
  assert.equal(refused.status, 400, 'the API no longer stores such an account');

  // What the fan-out would write, both projects' deliveries and jobs in one transaction and
  // interleaved, so every batch a worker lane claims holds some of each.
  const run = randomBytes(3).toString('hex');
  const phone = (p: string, i: number) => `+1${p}${run.replace(/\D/g, '').padEnd(3, '7').slice(0, 3)}${String(i).padStart(4, '0')}`;
  const a = { project: h.project.project_id, message: uuidv7(), deliveries: [] as { id: string; to: string }[] };
  const bad = { project: b.project_id, message: uuidv7(), deliveries: [] as { id: string; to: string }[] };
  for (let i = 0; i < 120; i++) a.deliveries.push({ id: uuidv7(), to: phone('555', i) });
  for (let i = 0; i < 12; i++) bad.deliveries.push({ id: uuidv7(), to: phone('556', i) });
  const order = a.deliveries.flatMap((d, i) => (i % 10 === 0 && bad.deliveries[i / 10] ? [bad.deliveries[i / 10]!, d] : [d]));
  const owner = new Map([...a.deliveries.map((d) => [d.id, a] as const), ...bad.deliveries.map((d) => [d.id, bad] as const)]);
  await h.db.sql.begin(async (tx) => {
    await insertMessages(tx, [a, bad].map((m) => ({
      id: m.message, projectId: m.project, groupId: 'isolation', recipients: { phones: m.deliveries.map((d) => d.to) },
      content: { sms: { text: `hello ${run}` } }, createdAt: new Date(), expiresAt: null,
    })));
    for (const d of order) {
      const m = owner.get(d.id)!;
      await tx`insert into deliveries (id, message_id, project_id, platform, target, target_kind) values (${d.id}, ${m.message}, ${m.project}, 'sms', ${d.to}, 'number')`;
    }
    await tx`update messages set fanned_out_at = now() where id = any(${[a.message, bad.message]}::uuid[])`;
    await queue.enqueue(tx, order.map((d) => ({ topic: topics.sms, payload: { delivery_id: d.id } })));
  });

  const all = order.map((d) => d.id);
  const done = await eventually(async () => {
    const rows = await statuses(all);
    return rows.every((r) => r.status !== 'queued') ? rows : undefined;
  }, 20_000, 'every SMS delivery to end');
  const byId = new Map(done.map((r) => [r.id, r]));
  for (const d of a.deliveries) {
    const r = byId.get(d.id)!;
    assert.ok(r.status === 'sent' || r.status === 'delivered', `A's ${d.to}: ${JSON.stringify(r)}`);
    assert.equal((await simulatorRecords('sms', d.to)).length, 1, `A's ${d.to} reached the simulator exactly once`);
  }
  for (const d of bad.deliveries) {
    const r = byId.get(d.id)!;
    assert.equal(r.status, 'failed', `B's ${d.to}: ${JSON.stringify(r)}`);
    assert.match(r.reason ?? '', /base_url must be https/);
    assert.equal((await simulatorRecords('sms', d.to)).length, 0, 'nothing of B\'s went out');
  }
});

test('malformed APNs tokens stored beside good ones: the good are sent at once, the breaker stays closed', async () => {
  const good = (n: number) => Array.from({ length: n }, () => randomBytes(32).toString('hex'));
  // Legacy rows the installations route refuses today. Sent as they are, the first ones would be reset
  // by the peer's HTTP/2 layer as malformed (a space or control character in :path is no valid
  // request-target, RFC 9113 §8.1.1 and §8.3.1), the others refused by APNs.
  const malformed = [
    'a b', 'ab cd'.repeat(13), `${'ab'.repeat(32)} `, `${'ab'.repeat(31)}\tab`, 'a\nb', `${'cd'.repeat(32)}\r\n`,
    'not-a-token', 'zz'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(300), '../../x', `${'ab'.repeat(32)}?x=1`,
  ];
  const aGood = good(20);
  const rows = [
    ...malformed.map((t, i) => ({ install_id: `bad-${i}`, push_token: t })),
    ...aGood.map((t, i) => ({ install_id: `good-${i}`, push_token: t })),
  ];
  await h.db.sql`
    insert into installations (project_id, install_id, platform, push_token, apns_environment)
    select ${h.project.project_id}, u.install_id, 'ios', u.push_token, 'sandbox'
    from unnest(${rows.map((r) => r.install_id)}::text[], ${rows.map((r) => r.push_token)}::text[]) as u(install_id, push_token)`;

  const started = Date.now();
  const sent = await h.call('POST', '/v1/transactional/send', {
    group_id: 'isolation', recipients: { install_ids: rows.map((r) => r.install_id) }, push: { title: 'Hi', body: 'mixed batch' },
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const mine = async (messageId: string) =>
    h.db.sql<{ target: string; status: string; reason: string | null }[]>`select target, status, reason from deliveries where message_id = ${messageId}`;
  const first = await eventually(async () => {
    const ds = await mine(sent.body.message_id);
    return ds.length === rows.length && ds.every((d) => d.status !== 'queued') ? ds : undefined;
  }, 10_000, 'every push of the mixed batch to end');
  for (const d of first) {
    if (aGood.includes(d.target)) assert.equal(d.status, 'sent', JSON.stringify(d));
    else assert.equal(d.status, 'invalidated', `a malformed token ends on its own: ${JSON.stringify(d)}`);
  }
  for (const t of aGood) assert.equal((await simulatorRecords('apns', t)).length, 1);

  // Another project on the same (sandbox) APNs account sends right after: not parked behind a breaker.
  const bGood = good(20);
  const next = await h.call('POST', '/v1/transactional/send', {
    group_id: 'isolation', recipients: { tokens: bGood.map((token) => ({ platform: 'ios', token })) }, push: { title: 'Hi', body: 'after' },
  }, { authorization: `Bearer ${b.rest_key}` });
  assert.equal(next.status, 202, JSON.stringify(next.body));
  const second = await eventually(async () => {
    const ds = await mine(next.body.message_id);
    return ds.length === bGood.length && ds.every((d) => d.status === 'sent') ? ds : undefined;
  }, 10_000, 'the other project\'s pushes to be sent');
  assert.equal(second.length, bGood.length);
  assert.ok(Date.now() - started < 10_000, 'promptly: no circuit-breaker pause');
  const parked = await h.db.sql`select 1 from deliveries where reason like 'provider down%'`;
  assert.equal(parked.length, 0, 'no delivery waited for an open breaker');
});
