import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import type { Job, WorkQueue } from '../queue/queue.js';
import { silentLogger } from '../observability/logger.js';
import { uuidv7 } from '../domain/ids.js';
import type { DeliveryOutcome } from '../domain/outcome.js';
import { createProject } from '../store/projects.js';
import { claimDeliveries, type DeliveryToSend } from '../store/deliveries.js';
import { insertMessages } from '../store/messages.js';
import type { ChannelSender } from '../channels/channel.js';
import { deliveryHandler } from './deliver.js';
import { createEvents } from './events.js';
import { createCircuitBreakers } from '../domain/circuit-breaker.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { testClock } from '../../test/support/clock.js';

const { keyring } = testMasterKey();

let db: TestDatabase;
let queue: WorkQueue;
let projectId: string;
before(async () => {
  db = await testDatabase();
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5 });
  projectId = (await createProject(db.sql, 'deliver', keyring)).project_id;
});
after(async () => { await queue.close(); await db.close(); });

const topic = 'delivery.test';

/** A message with one queued delivery, and that delivery's job claimed as a worker would. */
async function queuedDelivery(): Promise<{ id: string; job: () => Promise<Job> }> {
  const messageId = uuidv7();
  const id = uuidv7();
  await db.sql.begin(async (tx) => {
    await insertMessages(tx, [{ id: messageId, projectId, groupId: 'g', recipients: { tokens: [] }, content: { push: { title: 't', body: 'b' } }, createdAt: new Date(), expiresAt: null }]);
    await tx`insert into deliveries (id, message_id, project_id, platform, target, target_kind) values (${id}, ${messageId}, ${projectId}, 'ios', ${'tok-' + id}, 'token')`;
  });
  const job = async () => {
    await db.sql.begin((tx) => queue.enqueue(tx, [{ topic, payload: { delivery_id: id } }]));
    const [j] = await queue.claim(topic, { max: 1, leaseMs: 30_000, waitMs: 0 });
    assert.ok(j);
    return j;
  };
  return { id, job };
}

/** A sender that records what it was asked to send and answers `outcome`. */
function recordingSender(resendIsSafe: boolean, outcome: DeliveryOutcome = { kind: 'delivered' }) {
  const sent: DeliveryToSend[] = [];
  const sender: ChannelSender<string> = {
    channel: 'test', resendIsSafe,
    credentialsFor: async () => 'creds',
    accountOf: () => 'account',
    send: async (_c, d) => { sent.push(d); return outcome; },
  };
  return { sender, sent };
}

const handler = (sender: ChannelSender<string>) =>
  deliveryHandler({ sql: db.sql, queue, log: silentLogger(), events: createEvents(), sender, claimMs: 30_000, breakers: createCircuitBreakers() });

const row = async (id: string) =>
  (await db.sql<{ status: string; attempts: number; sending_until: Date | null; reason: string | null }[]>`
    select status, attempts, sending_until, reason from deliveries where id = ${id}`)[0]!;
const jobsLeft = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from jobs where topic = ${topic}`)[0]!.n;

test('a delivery is sent once, its outcome recorded and its claim ended', async () => {
  const d = await queuedDelivery();
  const { sender, sent } = recordingSender(true);
  await handler(sender)([await d.job()]);
  assert.equal(sent.length, 1);
  assert.deepEqual(await row(d.id), { status: 'sent', attempts: 1, sending_until: null, reason: null });
  assert.equal(await jobsLeft(), 0);
  // A redelivered job for a final delivery sends nothing.
  await handler(sender)([await d.job()]);
  assert.equal(sent.length, 1);
  assert.equal(await jobsLeft(), 0);
});

test('while one call holds the claim, a second job for the same delivery waits instead of sending', async () => {
  const d = await queuedDelivery();
  const first = await claimDeliveries(db.sql, [d.id], 30_000, new Date()); // a live worker's call under way
  assert.equal(first.get(d.id)?.kind, 'claimed');
  const { sender, sent } = recordingSender(true);
  await handler(sender)([await d.job()]);
  assert.equal(sent.length, 0, 'nothing sent concurrently');
  assert.equal((await row(d.id)).status, 'queued');
  const [waiting] = await db.sql<{ run_at: Date; last_error: string }[]>`select run_at, last_error from jobs where topic = ${topic}`;
  assert.ok(waiting, 'the job is kept for later');
  assert.ok(waiting.run_at.getTime() > Date.now() + 20_000, 'and due after the claim ends');
  await db.sql`delete from jobs where topic = ${topic}`;
});

test('a claim that ended without an outcome is ambiguous: re-sent with the same delivery when re-sending is safe', async () => {
  const d = await queuedDelivery();
  await claimDeliveries(db.sql, [d.id], 30_000, new Date());
  await db.sql`update deliveries set sending_until = now() - interval '1 second' where id = ${d.id}`; // its worker died
  const events = createEvents();
  const seen: unknown[] = [];
  events.on('delivery:ambiguous', (e) => seen.push(e));
  const { sender, sent } = recordingSender(true);
  await deliveryHandler({ sql: db.sql, queue, log: silentLogger(), events, sender, claimMs: 30_000, breakers: createCircuitBreakers() })([await d.job()]);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.id, d.id, 'the same delivery id, hence the same provider key');
  assert.equal((await row(d.id)).status, 'sent');
  assert.deepEqual(seen, [{ channel: 'test', resent: true }]);
});

test('an ambiguous delivery on a channel that cannot re-send safely becomes unknown, never sent twice', async () => {
  const d = await queuedDelivery();
  await claimDeliveries(db.sql, [d.id], 30_000, new Date());
  await db.sql`update deliveries set sending_until = now() - interval '1 second' where id = ${d.id}`;
  const { sender, sent } = recordingSender(false);
  await handler(sender)([await d.job()]);
  assert.equal(sent.length, 0);
  const r = await row(d.id);
  assert.equal(r.status, 'unknown');
  assert.match(r.reason ?? '', /crash/);
  assert.equal(await jobsLeft(), 0);
});

test('a claim that ends before its call starts is given back unused: no call, no attempt spent, another worker\'s claim left alone', async () => {
  const d = await queuedDelivery();
  const clock = testClock();
  const sent: DeliveryToSend[] = [];
  let stall: 'alone' | 'taken' | undefined = 'alone';
  let otherAt = 0;
  const sender: ChannelSender<string> = {
    channel: 'test', resendIsSafe: true,
    // The process stalls (or the clock moves on) between the claim and the call, past the claim's end;
    // in the second run another worker claims the delivery meanwhile.
    credentialsFor: async () => {
      if (stall) clock.advance(30_001);
      if (stall === 'taken') {
        otherAt = clock.now();
        assert.equal((await claimDeliveries(db.sql, [d.id], 30_000, new Date(otherAt))).get(d.id)?.kind, 'claimed');
      }
      return 'creds';
    },
    accountOf: () => 'account',
    send: async (_c, x) => { sent.push(x); return { kind: 'delivered' }; },
  };
  const run = deliveryHandler({ sql: db.sql, queue, log: silentLogger(), events: createEvents(), sender, claimMs: 30_000, breakers: createCircuitBreakers(), clock });
  await run([await d.job()]);
  assert.equal(sent.length, 0, 'no call on a claim that ended');
  assert.deepEqual(await row(d.id), { status: 'queued', attempts: 0, sending_until: null, reason: null });
  assert.equal(await jobsLeft(), 1, 'the job is kept to run again');
  await db.sql`delete from jobs where topic = ${topic}`;

  stall = 'taken';
  await run([await d.job()]);
  assert.equal(sent.length, 0);
  const taken = (await row(d.id)).sending_until;
  assert.equal(taken?.getTime(), otherAt + 30_000, 'the other worker\'s claim stands');
  await db.sql`delete from jobs where topic = ${topic}`;

  // Once that claim is over (its worker gave it back), the delivery is sent once, its first attempt.
  await db.sql`update deliveries set sending_until = null where id = ${d.id}`;
  stall = undefined;
  await run([await d.job()]);
  assert.equal(sent.length, 1);
  assert.deepEqual(await row(d.id), { status: 'sent', attempts: 1, sending_until: null, reason: null });
});

test('a transient failure keeps the delivery queued, ends the claim and schedules the job and the row alike', async () => {
  const d = await queuedDelivery();
  const { sender } = recordingSender(true, { kind: 'retry', reason: 'busy', retryAfterMs: 60_000 });
  await handler(sender)([await d.job()]);
  const r = await row(d.id);
  assert.equal(r.status, 'queued');
  assert.equal(r.sending_until, null, 'a later attempt is not mistaken for a crashed one');
  const [due] = await db.sql<{ due_at: Date }[]>`select due_at from deliveries where id = ${d.id}`;
  const [job] = await db.sql<{ run_at: Date }[]>`select run_at from jobs where topic = ${topic}`;
  assert.ok(job && due);
  assert.ok(Math.abs(due.due_at.getTime() - job.run_at.getTime()) < 5_000, 'due_at follows the retry');
  await db.sql`delete from jobs where topic = ${topic}`;
});

test('while the account\'s breaker is open, deliveries are parked: claim released, attempts kept, a fresh job later', async () => {
  const breakers = createCircuitBreakers({ failureThreshold: 1, openMs: 60_000, maxOpenMs: 60_000 });
  const { sender, sent } = recordingSender(true, { kind: 'provider_down', reason: 'HTTP 503' });
  const run = deliveryHandler({ sql: db.sql, queue, log: silentLogger(), events: createEvents(), sender, claimMs: 30_000, breakers });
  const first = await queuedDelivery();
  await run([await first.job()]); // the failure that opens the breaker
  assert.equal(sent.length, 1);
  await db.sql`delete from jobs where topic = ${topic}`;

  const d = await queuedDelivery();
  await run([await d.job()]);
  assert.equal(sent.length, 1, 'no call while open');
  const r = await row(d.id);
  assert.deepEqual([r.status, r.attempts, r.sending_until], ['queued', 0, null]);
  const waiting = await db.sql<{ attempts: number; run_at: Date }[]>`select attempts, run_at from jobs where topic = ${topic}`;
  assert.equal(waiting.length, 1, 'the old job is acked, one fresh job waits');
  assert.equal(waiting[0]!.attempts, 0, 'a fresh job: no attempt spent');
  assert.ok(waiting[0]!.run_at.getTime() > Date.now() + 50_000);
  await db.sql`delete from jobs where topic = ${topic}`;
});

/** Deliveries queued with one job each, the jobs claimed together as one batch. */
async function queuedBatch(n: number): Promise<{ ids: string[]; jobs: Job[] }> {
  const ds: { id: string }[] = [];
  for (let i = 0; i < n; i++) ds.push(await queuedDelivery());
  await db.sql.begin((tx) => queue.enqueue(tx, ds.map((d) => ({ topic, payload: { delivery_id: d.id } }))));
  const jobs = await queue.claim(topic, { max: n, leaseMs: 30_000, waitMs: 0 });
  assert.equal(jobs.length, n);
  return { ids: ds.map((d) => d.id), jobs };
}

/** A sender that throws for the deliveries in `throwFor` and delivers the others. */
function throwingSender(resendIsSafe: boolean, throwFor: Set<string>) {
  const sent: string[] = [];
  const sender: ChannelSender<string> = {
    channel: 'test', resendIsSafe,
    credentialsFor: async () => 'creds',
    accountOf: () => 'account',
    send: async (_c, d) => {
      if (throwFor.has(d.id)) throw new TypeError('Protocol "http:" not supported. Expected "https:"');
      sent.push(d.id);
      return { kind: 'delivered' };
    },
  };
  return { sender, sent };
}

for (const resendIsSafe of [false, true]) {
  test(`a sender throwing for one delivery decides that one alone; the batch's others are recorded (re-send ${resendIsSafe ? 'safe' : 'unsafe'})`, async () => {
    const { ids, jobs } = await queuedBatch(5);
    const bad = ids[2]!;
    const { sender, sent } = throwingSender(resendIsSafe, new Set([bad]));
    // One failure opens this breaker: a throw must not count as the provider being down.
    const breakers = createCircuitBreakers({ failureThreshold: 1, openMs: 60_000, maxOpenMs: 60_000 });
    await deliveryHandler({ sql: db.sql, queue, log: silentLogger(), events: createEvents(), sender, claimMs: 30_000, breakers })(jobs);

    assert.deepEqual(sent.sort(), ids.filter((id) => id !== bad).sort());
    for (const id of ids.filter((i) => i !== bad)) {
      assert.deepEqual(await row(id), { status: 'sent', attempts: 1, sending_until: null, reason: null });
    }
    const r = await row(bad);
    assert.equal(r.sending_until, null, 'its claim ended: not mistaken later for a crashed call');
    assert.match(r.reason ?? '', /the test sender failed \(TypeError\)/);
    assert.doesNotMatch(r.reason ?? '', /Protocol/, 'the error\'s message is not copied into the record');
    const left = await db.sql<{ payload: { delivery_id: string } }[]>`select payload from jobs where topic = ${topic}`;
    if (resendIsSafe) {
      assert.equal(r.status, 'queued', 'tried again later under the same provider key');
      assert.deepEqual(left.map((j) => j.payload.delivery_id), [bad], 'only its job is kept, the others are acked');
    } else {
      assert.equal(r.status, 'unknown', 'never sent a second time where that is not safe');
      assert.equal(left.length, 0);
    }
    assert.equal(breakers.admit('test:account', Date.now()).kind, 'send', 'the breaker stays closed');
    await db.sql`delete from jobs where topic = ${topic}`;
  });
}

test('credentials that cannot be read for one project keep its delivery queued, without failing the batch', async () => {
  const { ids, jobs } = await queuedBatch(2);
  const other = (await createProject(db.sql, 'deliver-other', keyring)).project_id;
  await db.sql`update deliveries set project_id = ${other} where id = ${ids[1]!}`;
  const sent: string[] = [];
  const sender: ChannelSender<string> = {
    channel: 'test', resendIsSafe: false,
    credentialsFor: async (p) => { if (p === other) throw new Error('cannot open the sealed row'); return 'creds'; },
    accountOf: () => 'account',
    send: async (_c, d) => { sent.push(d.id); return { kind: 'delivered' }; },
  };
  await handler(sender)(jobs);
  assert.deepEqual(sent, [ids[0]]);
  assert.equal((await row(ids[0]!)).status, 'sent');
  const r = await row(ids[1]!);
  assert.deepEqual([r.status, r.attempts, r.sending_until], ['queued', 0, null], 'nothing was sent: no attempt spent');
  await db.sql`delete from jobs where topic = ${topic}`;
});

test('an outcome decided locally neither opens nor closes the account\'s breaker', async () => {
  const breakers = createCircuitBreakers({ failureThreshold: 2, openMs: 60_000, maxOpenMs: 60_000 });
  const outcomes: DeliveryOutcome[] = [
    { kind: 'provider_down', reason: 'HTTP 503' },
    { kind: 'rejected', reason: 'Node would not send the request', local: true }, // must not reset the count
    { kind: 'provider_down', reason: 'HTTP 503' },
  ];
  const sender: ChannelSender<string> = {
    channel: 'test', resendIsSafe: true,
    credentialsFor: async () => 'creds',
    accountOf: () => 'account',
    send: async () => outcomes.shift()!,
  };
  const run = deliveryHandler({ sql: db.sql, queue, log: silentLogger(), events: createEvents(), sender, claimMs: 30_000, breakers });
  for (let i = 0; i < 3; i++) {
    const d = await queuedDelivery();
    await run([await d.job()]);
    await db.sql`delete from jobs where topic = ${topic}`;
  }
  assert.equal(breakers.admit('test:account', Date.now()).kind, 'park', 'two provider failures in a row, the local refusal between them left out');
});
