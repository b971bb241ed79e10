/**
 * The work queue's guarantees as one suite that every backend runs (postgres/queue.test.ts now,
 * jetstream/ later): a backend is done when it passes all of them. Each case gets a fresh database
 * and queue from the backend's factory, and a clock the case moves forward instead of waiting for
 * leases, delays and run_at (a JetStream retry's delay is the NATS server's, in real time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import type { Job, WorkQueue } from '../../src/queue/queue.js';
import type { TestClock } from './clock.js';

export interface QueueFixture {
  queue: WorkQueue;
  /** The record of truth whose transactions `enqueue` joins. */
  sql: Sql;
  /** A second queue on the same backend: another process, as far as the guarantees care. */
  other: WorkQueue;
  /** The clock both queues run on. */
  clock: TestClock;
  close(): Promise<void>;
}

const topic = 'conformance.topic';
const claimNow = { max: 100, leaseMs: 30_000, waitMs: 0 };

async function withFixture(make: () => Promise<QueueFixture>, body: (f: QueueFixture) => Promise<void>): Promise<void> {
  const f = await make();
  try {
    await body(f);
  } finally {
    await f.close();
  }
}

const payloads = (jobs: Job[]) => jobs.map((j) => j.payload).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

export function queueConformance(backend: string, make: () => Promise<QueueFixture>): void {
  const it = (name: string, body: (f: QueueFixture) => Promise<void>) =>
    test(`${backend} queue: ${name}`, { timeout: 60_000 }, () => withFixture(make, body));

  it('hands out nothing before the enqueuing transaction commits, and nothing if it rolls back', async ({ queue, other, sql }) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let enqueued!: () => void;
    const inTx = new Promise<void>((r) => (enqueued = r));
    const tx = sql.begin(async (t) => {
      await queue.enqueue(t, [{ topic, payload: { n: 1 } }]);
      enqueued();
      await held;
    });
    await inTx;
    assert.deepEqual(await other.claim(topic, claimNow), [], 'visible before commit');
    release();
    await tx;
    assert.deepEqual(payloads(await other.claim(topic, claimNow)), [{ n: 1 }]);

    await assert.rejects(sql.begin(async (t) => {
      await queue.enqueue(t, [{ topic, payload: { n: 2 } }]);
      throw new Error('roll back');
    }));
    assert.deepEqual(await other.claim(topic, claimNow), [], 'a rolled-back job was handed out');
  });

  it('hands each job to one claimer only, even when many claim at once', async ({ queue, other, sql }) => {
    await queue.enqueue(sql, Array.from({ length: 200 }, (_, n) => ({ topic, payload: { n } })));
    const batches = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? queue : other).claim(topic, { ...claimNow, max: 30 })),
    );
    const ids = batches.flat().map((j) => j.id);
    assert.equal(new Set(ids).size, ids.length, 'a job was claimed twice');
    assert.equal(ids.length, 200);
    for (const j of batches.flat()) assert.equal(j.attempt, 1);
  });

  it('never hands out an acked job again', async ({ queue, sql, clock }) => {
    await queue.enqueue(sql, [{ topic, payload: { n: 1 } }]);
    const [job] = await queue.claim(topic, { ...claimNow, leaseMs: 100 });
    await queue.ack([job!]);
    clock.advance(1_000); // well past the lease
    // A job enqueued after it is the one claimed: the claim would have found the first.
    await queue.enqueue(sql, [{ topic, payload: { n: 2 } }]);
    assert.deepEqual(payloads(await queue.claim(topic, { ...claimNow, waitMs: 5_000 })), [{ n: 2 }]);
  });

  it('hands a crashed claimer\'s job out again after its lease, with the attempt counted', async ({ queue, other, sql, clock }) => {
    await queue.enqueue(sql, [{ topic, payload: { n: 1 } }]);
    const [first] = await queue.claim(topic, { ...claimNow, leaseMs: 20_000 });
    assert.equal(first!.attempt, 1);
    assert.deepEqual(await other.claim(topic, claimNow), [], 'handed out during the lease');
    clock.advance(19_000);
    assert.deepEqual(await other.claim(topic, claimNow), [], 'came back before the lease ended');
    // The first claimer "crashed": it never acks. A waiting claimer gets the job once the lease ends.
    clock.advance(1_000);
    const [again] = await other.claim(topic, { ...claimNow, waitMs: 5_000 });
    assert.ok(again, 'the job did not come back');
    assert.equal(again.id, first!.id);
    assert.equal(again.attempt, 2);
    // The late ack of the first claimer must not remove the job its successor now holds.
    await queue.ack([first!]);
    await other.retry(again, 0, 'still here?');
    const [third] = await other.claim(topic, claimNow);
    assert.equal(third?.id, first!.id, 'a stale ack removed a job another claimer held');
  });

  it('retries after the delay, counting attempts, and dead-letters with the last error', async ({ queue, sql, clock }) => {
    await queue.enqueue(sql, [{ topic, payload: { n: 1 } }]);
    const [job] = await queue.claim(topic, claimNow);
    await queue.retry(job!, 1_500, 'provider said 503');
    assert.deepEqual(await queue.claim(topic, claimNow), [], 'retried before its delay');
    clock.advance(1_000);
    assert.deepEqual(await queue.claim(topic, claimNow), [], 'the retry delay was not honoured');
    clock.advance(500);
    const [again] = await queue.claim(topic, { ...claimNow, waitMs: 5_000 });
    assert.equal(again!.attempt, 2);
    await queue.deadLetter(again!, 'gave up: provider said 503');
    // A job enqueued after the dead letter is the only one a claim finds.
    await queue.enqueue(sql, [{ topic, payload: { n: 2 } }]);
    const after = await queue.claim(topic, { ...claimNow, waitMs: 5_000 });
    assert.deepEqual(payloads(after), [{ n: 2 }], 'a dead-lettered job was handed out again');
    await queue.ack(after);
    const stats = (await queue.stats()).find((s) => s.topic === topic);
    assert.equal(stats?.deadLettered, 1);
    assert.equal(stats?.depth, 0);
    const [dead] = await sql<{ last_error: string; payload: unknown }[]>`select last_error, payload from dead_jobs`;
    assert.equal(dead?.last_error, 'gave up: provider said 503');
    assert.deepEqual(dead?.payload, { n: 1 });
  });

  it('wakes an idle claimer as soon as work is committed elsewhere', async ({ queue, other, sql }) => {
    const waiting = other.claim(topic, { ...claimNow, waitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    const committed = Date.now();
    await sql.begin((t) => queue.enqueue(t, [{ topic, payload: { n: 1 } }]));
    const jobs = await waiting;
    assert.equal(jobs.length, 1);
    assert.ok(Date.now() - committed < 2_000, `woke ${Date.now() - committed} ms after the commit`);
  });

  it('returns an empty claim when the wait ends or the signal aborts', async ({ queue }) => {
    const started = Date.now();
    assert.deepEqual(await queue.claim(topic, { ...claimNow, waitMs: 300 }), []);
    assert.ok(Date.now() - started >= 250);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const t0 = Date.now();
    assert.deepEqual(await queue.claim(topic, { ...claimNow, waitMs: 20_000, signal: abort.signal }), []);
    assert.ok(Date.now() - t0 < 5_000);
  });

  it('keeps topics apart and reports depth and age per topic', async ({ queue, sql }) => {
    await queue.enqueue(sql, [{ topic, payload: 1 }, { topic: 'conformance.other', payload: 2 }, { topic, payload: 3 }]);
    const stats = await queue.stats();
    assert.equal(stats.find((s) => s.topic === topic)?.depth, 2);
    assert.equal(stats.find((s) => s.topic === 'conformance.other')?.depth, 1);
    assert.deepEqual(payloads(await queue.claim('conformance.other', claimNow)), [2]);
    assert.equal(await queue.ping(), true);
  });

  it('runs a job no sooner than its runAt', async ({ queue, sql, clock }) => {
    await queue.enqueue(sql, [{ topic, payload: 'later', runAt: new Date(clock.now() + 60_000) }]);
    assert.deepEqual(await queue.claim(topic, claimNow), []);
    clock.advance(59_000);
    assert.deepEqual(await queue.claim(topic, claimNow), [], 'ran before its runAt');
    clock.advance(1_000);
    const [job] = await queue.claim(topic, { ...claimNow, waitMs: 5_000 });
    assert.equal(job?.payload, 'later');
  });
}
