/**
 * The same push path with the work queue on NATS JetStream (NATS_URL): API → PostgreSQL commit
 * (message + outbox row) → relay → JetStream → worker → APNs simulator. Runs where a JetStream
 * server answers (NATS_URL, default 127.0.0.1:4222); skipped with the reason elsewhere, never in CI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestHerald, eventually, type TestHerald } from '../support/herald.js';
import { deleteStreams, jetStreamProblem, sharedNatsUrl } from '../support/jetstream/nats.js';

const problem = await jetStreamProblem(sharedNatsUrl);
if (problem && process.env.CI) throw new Error(`CI must run the JetStream scenarios: ${problem}`);
const skip = problem ? `needs NATS with JetStream: ${problem}` : false;

const prefix = 'herald_test_' + randomBytes(4).toString('hex');
let h: TestHerald;
before(async () => {
  if (skip) return;
  h = await startTestHerald({
    env: { NATS_URL: sharedNatsUrl, HERALD_NATS_STREAM_PREFIX: prefix, HERALD_MAX_ATTEMPTS: '2' },
    overrides: { backoff: { baseMs: 50, maxMs: 200 } },
  });
});
after(async () => {
  if (skip) return;
  await h.close();
  await deleteStreams(sharedNatsUrl, prefix);
});

const token = () => randomBytes(32).toString('hex');
const records = async (t: string, include = '') =>
  (await fetch(`${h.herald.sandbox!.inspectionUrl}/_sandbox/deliveries?channel=apns&target=${t}${include}`).then((r) => r.json())) as any[];

test('a push travels through the outbox and JetStream to the simulator, once', { skip }, async () => {
  const tokens = Array.from({ length: 50 }, token);
  const r = await h.call('POST', '/v1/transactional/send', {
    group_id: 'js', recipients: { tokens: tokens.map((t) => ({ platform: 'ios', token: t })) }, push: { title: 'Hi', body: 'via JetStream' },
  }, { 'idempotency-key': 'js-' + prefix });
  assert.equal(r.status, 202);
  await eventually(async () => {
    const m = await h.call('GET', `/v1/messages/${r.body.message_id}`);
    return m.body.counts.sent === 50 ? true : undefined;
  }, 30_000, 'all 50 deliveries sent');
  for (const t of tokens.slice(0, 10)) assert.equal((await records(t)).length, 1, 'delivered once');
  const [outbox] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from job_outbox`;
  assert.equal(outbox!.n, 0, 'the relay emptied the outbox');
  const ready = await fetch(h.url + '/readyz').then((x) => x.json());
  assert.deepEqual(ready, { status: 'ready', database: 'up', queue: 'up' });
});

test('retries and dead letters work the same over JetStream', { skip }, async () => {
  const t = token();
  const fault = await fetch(`${h.herald.sandbox!.inspectionUrl}/_sandbox/faults`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channel: 'apns', target_prefix: t, status: 500, reason: 'InternalServerError' }),
  });
  assert.equal(fault.status, 201);
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'js', recipients: { tokens: [{ platform: 'ios', token: t }] }, push: { title: 'a', body: 'b' } });
  const m = await eventually(async () => {
    const v = await h.call('GET', `/v1/messages/${r.body.message_id}`);
    return v.body.recipients?.[0]?.status === 'failed' ? v.body : undefined;
  }, 30_000, 'the delivery failed after its attempts');
  assert.match(m.recipients[0].reason, /gave up after 2 attempts: InternalServerError/);
  assert.equal((await records(t, '&include=rejected')).length, 2);
  // The outcome is recorded before the job is dead-lettered: wait for the dead letter itself.
  await eventually(async () => {
    const [dead] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from dead_jobs where topic = 'delivery.apns'`;
    return dead!.n === 1 ? true : undefined;
  }, 10_000, 'the job in dead_jobs');
});
