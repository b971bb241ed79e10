import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { testClock, type TestClock } from '../../test/support/clock.js';
import { eventually } from '../../test/support/eventually.js';
import { webhookReceiver, type WebhookReceiver } from '../../test/support/webhook-receiver.js';
import { silentLogger } from '../observability/logger.js';
import { createOutboundGuard } from '../providers/outbound-guard.js';
import { createProject } from '../store/projects.js';
import { addSuppressions } from '../store/email-suppressions.js';
import { optOutPhones } from '../store/sms.js';
import { createEndpoint, rotateSecret, updateEndpoint } from '../store/webhook-endpoints.js';
import { replayWebhooks } from '../store/webhook-deliveries.js';
import { uuidv7 } from '../domain/ids.js';
import { startWebhookDispatcher, type WebhookDispatcherDeps } from './webhook-dispatcher.js';

// The dispatcher on a real database against real HTTP receivers on 127.0.0.1 (private networks
// allowed, as --allow-private-networks does), its time driven by a test clock.
const { keyring } = testMasterKey();
const guard = createOutboundGuard({ all: true, origins: [] });
let db: TestDatabase;
const cleanup: (() => Promise<void>)[] = [];

before(async () => {
  db = await testDatabase();
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
after(async () => {
  await db.close();
});

async function setup(o: Partial<WebhookDispatcherDeps> = {}) {
  const clock = o.clock as TestClock | undefined ?? testClock();
  const project = (await createProject(db.sql, `p${Math.random()}`, keyring)).project_id;
  const dispatcher = startWebhookDispatcher({ sql: db.sql, keyring, log: silentLogger(), guard, clock, pollMs: 20, timeoutMs: 1_000, random: () => 0.5, ...o });
  cleanup.push(async () => {
    await dispatcher.stop();
    await db.sql`update webhook_endpoints set enabled = false where project_id = ${project}`;
  });
  const endpoint = async (r: WebhookReceiver, eventTypes: string[] = []) => {
    cleanup.push(() => r.close());
    return createEndpoint(db.sql, keyring, project, { id: uuidv7(clock.now()), url: r.url, description: null, eventTypes, enabled: true, now: new Date(clock.now()) });
  };
  /** n email.bounced events, written in one statement. */
  const bounce = (...addresses: string[]) =>
    addSuppressions(db.sql, project, addresses.map((address) => ({ address, reason: 'hard_bounce' as const, detail: '550 5.1.1' })), new Date(clock.now()));
  return { clock, project, endpoint, bounce };
}

/** The request's body once its signature verifies under `secret` (standardwebhooks' Webhook.verify). */
const verified = (secret: string, r: { headers: Record<string, string>; body: string }) => new Webhook(secret).verify(r.body, r.headers) as { type: string; data: Record<string, unknown> };

test('every event arrives once at a healthy endpoint, signed, with the Standard Webhooks envelope', async () => {
  const { endpoint, bounce } = await setup();
  const r = await webhookReceiver();
  const ep = await endpoint(r);
  await bounce('a@example.com', 'b@example.com', 'c@example.com');
  await eventually(() => r.requests.length >= 3, 10_000, 'three webhooks');
  const bodies = r.requests.map((q) => verified(ep.secret, q));
  assert.deepEqual(bodies.map((b) => b.data.address).sort(), ['a@example.com', 'b@example.com', 'c@example.com']);
  assert.ok(bodies.every((b) => b.type === 'email.bounced' && b.data.reason === 'hard_bounce'));
  assert.equal(new Set(r.requests.map((q) => q.headers['webhook-id'])).size, 3);
  const log = await eventually(async () => {
    const rows = await db.sql`select attempt, status_code, error from webhook_attempts where endpoint_id = ${ep.id}`;
    return rows.length === 3 && rows;
  }, 10_000, 'three attempts logged');
  assert.deepEqual(log.map((a) => [a.attempt, a.status_code, a.error]), [[1, 204, null], [1, 204, null], [1, 204, null]]);
  assert.deepEqual((await db.sql`select status from webhook_deliveries where endpoint_id = ${ep.id}`).map((d) => d.status), ['succeeded', 'succeeded', 'succeeded']);
});

test('a 500, then a timeout, is tried again on the schedule with the same webhook-id until a 2xx', async () => {
  const { clock, endpoint, bounce } = await setup({ timeoutMs: 300 });
  const r = await webhookReceiver((n) => (n === 1 ? { status: 500 } : n === 2 ? 'hang' : { status: 200 }));
  const ep = await endpoint(r);
  await bounce('x@example.com');
  await eventually(() => r.requests.length === 1, 10_000, 'the first attempt');
  await eventually(async () => (await db.sql`select attempts from webhook_deliveries where endpoint_id = ${ep.id}`)[0]?.attempts === 1);
  clock.advance(4_000); // the first retry is 5 s (±10 %) after the failure: not yet
  await new Promise((res) => setTimeout(res, 150));
  assert.equal(r.requests.length, 1);
  clock.advance(1_500);
  await eventually(() => r.requests.length === 2, 10_000, 'the second attempt (it times out)');
  await eventually(async () => (await db.sql`select attempts from webhook_deliveries where endpoint_id = ${ep.id}`)[0]?.attempts === 2, 10_000, 'the timeout recorded');
  clock.advance(300_000); // the second retry: 5 min
  await eventually(() => r.requests.length === 3, 10_000, 'the third attempt');
  await eventually(async () => (await db.sql`select status from webhook_deliveries where endpoint_id = ${ep.id}`)[0]?.status === 'succeeded');
  assert.equal(new Set(r.requests.map((q) => q.headers['webhook-id'])).size, 1, 'duplicates carry the same webhook-id');
  for (const q of r.requests) assert.equal(verified(ep.secret, q).data.address, 'x@example.com');
  const log = await db.sql<{ attempt: number; status_code: number | null; error: string | null }[]>`
    select attempt, status_code, error from webhook_attempts where endpoint_id = ${ep.id} order by id`;
  assert.deepEqual(log.map((a) => [a.attempt, a.status_code]), [[1, 500], [2, null], [3, 200]]);
  assert.match(log[1]!.error!, /no answer within 300 ms/);
});

test('a 429 with Retry-After is not tried again before it asks', async () => {
  const { clock, endpoint, bounce } = await setup();
  const r = await webhookReceiver((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '120' } } : { status: 200 }));
  const ep = await endpoint(r);
  await bounce('y@example.com');
  await eventually(async () => (await db.sql`select attempts from webhook_deliveries where endpoint_id = ${ep.id}`)[0]?.attempts === 1, 10_000, 'the 429 recorded');
  clock.advance(60_000); // past the schedule's 5 s, before Retry-After's 120 s
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(r.requests.length, 1);
  clock.advance(61_000);
  await eventually(() => r.requests.length === 2, 10_000, 'the retry after Retry-After');
  assert.equal(r.requests[0]!.headers['webhook-id'], r.requests[1]!.headers['webhook-id']);
});

test('a dead endpoint never delays a healthy one', async () => {
  const { endpoint, bounce } = await setup({ timeoutMs: 5_000, perEndpoint: 2 });
  const dead = await webhookReceiver(() => 'hang');
  const healthy = await webhookReceiver();
  await endpoint(dead);
  const ep = await endpoint(healthy);
  const started = Date.now();
  await bounce(...Array.from({ length: 20 }, (_, i) => `u${i}@example.com`));
  await eventually(() => healthy.requests.length >= 20, 4_000, 'the healthy endpoint\'s 20 webhooks before the dead one\'s first timeout');
  assert.ok(Date.now() - started < 5_000);
  for (const q of healthy.requests) verified(ep.secret, q);
  // The dead endpoint holds its own slots only: two requests in flight, never more.
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(dead.requests.length, 2);
});

test('an endpoint failing for 5 days is disabled; a replay by range sends what it missed, the same events again', async () => {
  const { clock, project, endpoint, bounce } = await setup();
  let down = true;
  const r = await webhookReceiver(() => (down ? { status: 503 } : { status: 200 }));
  const ep = await endpoint(r);
  const t0 = clock.now();
  await bounce('first@example.com');
  await eventually(async () => (await db.sql`select failing_since from webhook_endpoints where id = ${ep.id}`)[0]?.failing_since ?? undefined, 10_000, 'the first failure');
  clock.advance(3 * 86_400_000); // its next retry fails, 3 days into the streak: still enabled
  await eventually(() => r.requests.length === 2, 10_000, 'the retry');
  await eventually(async () => (await db.sql`select attempts from webhook_deliveries where endpoint_id = ${ep.id}`)[0]?.attempts === 2);
  assert.equal((await db.sql`select enabled from webhook_endpoints where id = ${ep.id}`)[0]!.enabled, true);
  clock.advance(2 * 86_400_000);
  await eventually(async () => (await db.sql`select enabled from webhook_endpoints where id = ${ep.id}`)[0]!.enabled === false, 10_000, 'the endpoint disabled');
  const [disabled] = await db.sql`select disabled_reason from webhook_endpoints where id = ${ep.id}`;
  assert.match(disabled!.disabled_reason, /every attempt failed since/);

  // Missed while disabled: nothing is sent, but the event is kept for the replay.
  await bounce('missed@example.com');
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(r.requests.length, 3);
  down = false;
  await updateEndpoint(db.sql, project, ep.id, { enabled: true, now: new Date(clock.now()) });
  const queued = await replayWebhooks(db.sql, project, ep.id, { since: new Date(t0 - 1000), until: new Date(clock.now() + 1000) }, new Date(clock.now()));
  assert.equal(queued, 2);
  await eventually(() => r.requests.filter((q) => q.headers['webhook-id'] && r.requests.indexOf(q) >= 3).length === 2, 10_000, 'the replayed events');
  const replayed = r.requests.slice(3).map((q) => verified(ep.secret, q).data.address).sort();
  assert.deepEqual(replayed, ['first@example.com', 'missed@example.com']);
  assert.equal(r.requests[3]!.headers['webhook-id'] === r.requests[0]!.headers['webhook-id'] || r.requests[4]!.headers['webhook-id'] === r.requests[0]!.headers['webhook-id'], true,
    'a replayed event keeps its webhook-id');
  // A second replay of the range has nothing left to send.
  await eventually(async () => (await db.sql`select count(*)::int as n from webhook_deliveries where endpoint_id = ${ep.id} and status = 'succeeded'`)[0]!.n === 2);
  assert.equal(await replayWebhooks(db.sql, project, ep.id, { since: new Date(t0 - 1000), until: new Date(clock.now() + 1000) }, new Date(clock.now())), 0);
});

test('after a rotation both secrets sign for 24 hours, then only the new one', async () => {
  const { clock, project, endpoint, bounce } = await setup();
  const r = await webhookReceiver();
  const ep = await endpoint(r);
  const rotated = await rotateSecret(db.sql, keyring, project, ep.id, new Date(clock.now()));
  assert.ok(rotated);
  await bounce('during@example.com');
  await eventually(() => r.requests.length === 1);
  assert.equal(r.requests[0]!.headers['webhook-signature']!.split(' ').length, 2);
  verified(ep.secret, r.requests[0]!);
  verified(rotated.secret, r.requests[0]!);
  clock.advance(24 * 3_600_000 + 1_000);
  await bounce('after@example.com');
  await eventually(() => r.requests.length === 2);
  assert.equal(r.requests[1]!.headers['webhook-signature']!.split(' ').length, 1);
  assert.equal(verified(rotated.secret, r.requests[1]!).data.address, 'after@example.com');
  assert.throws(() => verified(ep.secret, r.requests[1]!), /No matching signature/);
});

test('the filter decides which endpoints get an event; a sms.opted_out goes to the one that wants it', async () => {
  const { endpoint, bounce, project, clock } = await setup();
  const email = await webhookReceiver();
  const sms = await webhookReceiver();
  await endpoint(email, ['email.bounced']);
  const smsEp = await endpoint(sms, ['sms.opted_out']);
  await bounce('f@example.com');
  await optOutPhones(db.sql, project, ['+15550001111'], 'inbound_keyword', new Date(clock.now()));
  await eventually(() => email.requests.length === 1 && sms.requests.length === 1);
  assert.deepEqual(verified(smsEp.secret, sms.requests[0]!), { type: 'sms.opted_out', timestamp: new Date(JSON.parse(sms.requests[0]!.body).timestamp).toISOString(), data: { phone: '+15550001111', source: 'inbound_keyword' } });
  await new Promise((res) => setTimeout(res, 150));
  assert.equal(email.requests.length, 1);
  assert.equal(sms.requests.length, 1);
});

test('the outbound guard refuses a loopback endpoint unless private networks are allowed', async () => {
  const { endpoint, bounce } = await setup({ guard: createOutboundGuard() });
  const r = await webhookReceiver();
  const ep = await endpoint(r);
  await bounce('g@example.com');
  const [a] = await eventually(async () => {
    const rows = await db.sql`select status_code, error from webhook_attempts where endpoint_id = ${ep.id}`;
    return rows.length ? rows : undefined;
  });
  assert.equal(a!.status_code, null);
  assert.match(a!.error, /loopback/);
  assert.equal(r.requests.length, 0);
});
