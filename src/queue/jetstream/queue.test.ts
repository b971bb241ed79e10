/**
 * The JetStream backend: the shared conformance suite, then what only this backend can get wrong
 * (the outbox relay, the server's ack semantics, crashed claimers, unsafe streams). Runs against the
 * NATS at NATS_URL (default nats://127.0.0.1:4222) with a stream prefix and a database per test.
 * Without NATS it skips, except under CI. NATS outages: outages.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { connect, headers } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, DiscardPolicy, StorageType, RetentionPolicy } from '@nats-io/jetstream';
import { queueConformance, type QueueFixture } from '../../../test/support/queue-conformance.js';
import { testClock } from '../../../test/support/clock.js';
import type { Job } from '../queue.js';
import { jobNames } from './names.js';
import { atLeast } from './features.js';
import { parseAckSubject, pull } from './pull.js';
import { publishAll } from './publish-all.js';
import { jetStreamProblem, sharedNatsUrl } from '../../../test/support/jetstream/nats.js';
import { ci, claimNow, eventually, harness, outboxRows, payloads, sleep, topic, type Harness } from '../../../test/support/jetstream/harness.js';
import type { PublishResult } from '../../relay/outbox-relay.js';
import { startJetStreamRelay } from './relay-process.js';
import { silentLogger } from '../../observability/logger.js';
import { packageRoot } from '../../paths.js';
import { uuidv7 } from '../../domain/ids.js';

const url = sharedNatsUrl;
const missing = await jetStreamProblem(url);
if (missing && !ci) {
  test('jetstream queue', { skip: `${missing}; start \`nats-server -js\` or set NATS_URL (under CI this fails instead)` }, () => {});
} else if (missing) {
  // Under CI the suite never skips: a missing NATS is a failure, named once instead of every case
  // timing out on its own.
  test('jetstream queue: a NATS server with JetStream is reachable', () => {
    assert.fail(`${missing}; start \`nats-server -js\` or set NATS_URL`);
  });
} else {
  queueConformance('jetstream', async (): Promise<QueueFixture> => {
    const h = await harness();
    try {
      const clock = testClock();
      const queue = await h.make({ clock });
      const other = await h.make({ clock });
      return { queue, other, clock, sql: h.sql, close: h.close };
    } catch (err) {
      await h.close();
      throw err;
    }
  });

  const withHarness = (name: string, body: (h: Harness) => Promise<void>) =>
    test(`jetstream queue: ${name}`, { timeout: 60_000 }, async () => {
      const h = await harness();
      try {
        await body(h);
      } finally {
        await h.close();
      }
    });

  withHarness('a relay that died after publishing publishes again, and the consumer gets the job once', async (h) => {
    const seen: PublishResult[][] = [];
    const queue = await h.make({
      relayOptions: {
        afterPublish: (results) => {
          seen.push(results);
          // The first pass dies between the PubAck and the delete: its transaction rolls back.
          if (seen.length === 1) throw new Error('relay died after the PubAck');
        },
      },
    });
    await h.sql.begin((t) => queue.enqueue(t, [{ topic, payload: { n: 1 } }]));
    await eventually(async () => (await outboxRows(h.sql)) === 0, undefined, 'the relay published again and deleted the row');
    assert.ok(seen.length >= 2, 'the row was not published a second time');
    assert.equal(seen[0]![0]!.duplicate, false);
    assert.equal(seen.at(-1)![0]!.duplicate, true, 'the stream stored the re-publish');
    const jobs = await queue.claim(topic, claimNow);
    assert.deepEqual(payloads(jobs), [{ n: 1 }]);
    assert.equal((await queue.stats()).find((s) => s.topic === topic)?.depth, 1, 'the stream holds two copies');
    await queue.ack(jobs);
    assert.deepEqual(await queue.claim(topic, { ...claimNow, waitMs: 500 }), []);
  });

  withHarness('a re-publish after the job was already done is dropped by the stream', async (h) => {
    const seen: PublishResult[][] = [];
    const queue = await h.make({ relayOptions: { afterPublish: (r) => void seen.push(r) } });
    const names = jobNames(h.prefix);
    // A relay published this row and died; its row comes due again a moment later.
    const id = uuidv7();
    await h.sql`
      with r as (insert into job_outbox (id, topic, payload, run_at)
                 values (${id}, ${topic}, '{"n":1}', now() + interval '1500 milliseconds') returning 1)
      select pg_notify('herald_outbox', '') from r`;
    const nc = await connect({ servers: url });
    try {
      const hdrs = headers();
      hdrs.set('Herald-Created-At', String(Date.now()));
      const ack = await jetstream(nc).publish(names.subject(topic), '{"n":1}', { msgID: id, headers: hdrs });
      assert.equal(ack.duplicate, false);
    } finally {
      await nc.close();
    }
    const [job] = await queue.claim(topic, claimNow);
    assert.equal(job?.id, id);
    await queue.ack([job!]);
    await eventually(async () => (await outboxRows(h.sql)) === 0, undefined, 'the relay published the row again');
    assert.equal(seen.at(-1)?.[0]?.duplicate, true);
    assert.deepEqual(await queue.claim(topic, { ...claimNow, waitMs: 500 }), [], 'a done job came back');
  });

  withHarness('a full stream refuses part of a batch: those rows wait in the outbox and go once there is room, each once', async (h) => {
    const names = jobNames(h.prefix);
    const queue = await h.make();
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      // What one job takes in the stream, from a job like the ones below.
      await queue.enqueue(h.sql, [{ topic, payload: { n: 0 } }]);
      await eventually(async () => (await outboxRows(h.sql)) === 0, undefined, 'the probe job is in the stream');
      const jobBytes = (await jsm.streams.info(names.stream)).state.bytes;
      assert.ok(jobBytes > 0);
      await queue.ack(await queue.claim(topic, claimNow));
      await eventually(async () => (await jsm.streams.info(names.stream)).state.messages === 0, undefined, 'the probe job left the stream');

      // Room for three jobs: one relay pass of five publishes three and is refused two (discard: new).
      const full = await h.make({ maxBytes: Math.floor(jobBytes * 3.5), relay: false });
      assert.equal((await jsm.streams.info(names.stream)).config.max_bytes, Math.floor(jobBytes * 3.5));
      await h.sql.begin((t) => queue.enqueue(t, [1, 2, 3, 4, 5].map((n) => ({ topic, payload: { n } }))));
      await eventually(async () =>
        (await outboxRows(h.sql)) === 2 && (await jsm.streams.info(names.stream)).state.messages === 3, undefined, 'three jobs are in the stream and two wait in the outbox');
      const got = await full.claim(topic, claimNow);
      assert.equal(got.length, 3);
      await full.ack(got);
      await eventually(async () => (await outboxRows(h.sql)) === 0, 20_000, 'the refused rows were published once there was room');
      got.push(...(await full.claim(topic, { ...claimNow, waitMs: 5_000 })));
      assert.deepEqual(got.map((j) => (j.payload as { n: number }).n).sort(), [1, 2, 3, 4, 5]);
      assert.equal(new Set(got.map((j) => j.id)).size, 5, 'a job was handed out twice');
      assert.ok(got.every((j) => j.attempt === 1));
      await full.ack(got.slice(3));
      assert.deepEqual(await full.claim(topic, { ...claimNow, waitMs: 500 }), [], 'a job was stored twice');
    } finally {
      await nc.close();
    }
  });

  withHarness('a batch publish reports each message on its own: stored, duplicate, refused, no stream', async (h) => {
    const names = jobNames(h.prefix);
    await h.make(); // creates the stream
    const nc = await connect({ servers: url });
    try {
      const message = (subject: string, id: string, stream = names.stream) => {
        const hdrs = headers();
        hdrs.set('Nats-Msg-Id', id);
        hdrs.set('Nats-Expected-Stream', stream);
        return { subject, payload: '{}', headers: hdrs };
      };
      const id = uuidv7();
      const results = await publishAll(nc, [
        message(names.subject(topic), id),
        message(names.subject(topic), id),
        message(names.subject(topic), uuidv7(), 'another_stream'),
        message(`${h.prefix}_nowhere.x`, uuidv7()),
        message(names.subject(topic), uuidv7()),
      ], 5_000);
      assert.deepEqual(results.map((r) => (r.ok ? `stored${r.duplicate ? ' duplicate' : ''}` : r.noResponders ? 'no stream' : 'refused')),
        ['stored', 'stored duplicate', 'refused', 'no stream', 'stored']);
      assert.match(String(results[2]!.ok ? '' : results[2]!.error.message), /stream/i);
      assert.equal((await (await jetstreamManager(nc)).streams.info(names.stream)).state.messages, 2);
    } finally {
      await nc.close();
    }
  });

  withHarness('a claim takes what the stream holds first and relays the outbox only when that falls short', async (h) => {
    const queue = await h.make({ relay: false }); // only claims relay here
    const enqueue = (...ns: number[]) => h.sql.begin((t) => queue.enqueue(t, ns.map((n) => ({ topic, payload: n }))));
    // Jobs committed together may go out in any order among themselves (their ids are random past
    // the millisecond), so the claims are compared as sets.
    const claim = async (max: number) => (await queue.claim(topic, { ...claimNow, max })).map((j) => j.payload as number).sort();
    await enqueue(1, 2, 3);
    const first = await claim(1);
    assert.equal(first.length, 1, 'an empty stream: the claim relays, then pulls');
    await enqueue(4, 5);
    assert.deepEqual([...first, ...(await claim(2))].sort(), [1, 2, 3], 'older jobs in the stream come first');
    assert.equal(await outboxRows(h.sql), 2, 'a claim the stream filled relayed the outbox');
    await enqueue(6);
    assert.deepEqual(await claim(2), [4, 5]);
    await enqueue(7);
    assert.deepEqual(await claim(10), [6, 7], 'a short stream: the claim took its job, relayed, and took the rest');
    assert.equal(await outboxRows(h.sql), 0);
    assert.equal((await queue.stats()).find((s) => s.topic === topic)?.depth, 7, 'a job was stored twice');
    assert.deepEqual(await claim(10), [], 'a job was handed out twice');
  });

  withHarness('a relay running on its own moves jobs for queues that run none', async (h) => {
    const queue = await h.make({ relay: false });
    const relay = await startJetStreamRelay({ sql: h.sql, log: silentLogger(), natsUrl: url, streamPrefix: h.prefix });
    try {
      await h.sql.begin((t) => queue.enqueue(t, [{ topic, payload: { n: 1 } }, { topic, payload: { n: 2 }, runAt: new Date(Date.now() + 300) }]));
      await eventually(async () => (await outboxRows(h.sql)) === 0, undefined, 'the relay drained the outbox');
    } finally {
      await relay.close();
    }
    const jobs = await queue.claim(topic, claimNow);
    assert.deepEqual(payloads(jobs).map((p) => (p as { n: number }).n).sort(), [1, 2]);
    await queue.ack(jobs);
  });

  withHarness('a claim aborted while waiting strands no job in its inbox', async (h) => {
    const queue = await h.make();
    const other = await h.make();
    const abort = new AbortController();
    const waiting = queue.claim(topic, { ...claimNow, waitMs: 20_000, signal: abort.signal });
    await sleep(200);
    abort.abort();
    assert.deepEqual(await waiting, []);
    await queue.enqueue(h.sql, [{ topic, payload: 'after the abort' }]);
    const started = Date.now();
    const [job] = await other.claim(topic, { ...claimNow, waitMs: 5_000 });
    assert.equal(job?.payload, 'after the abort');
    assert.equal(job?.attempt, 1, 'the job went to the aborted claim first');
    assert.ok(Date.now() - started < 2_000);
  });

  test('jetstream queue: a claimer killed with -9 loses its job after ack_wait, not before, and a long lease outlives ack_wait', { timeout: 60_000 }, async () => {
    const h = await harness();
    const ackWaitMs = 1_500;
    const child = spawn(process.execPath, [join(packageRoot, 'dist/test/support/jetstream/claim-and-die.js')], {
      env: { ...process.env, HERALD_DATABASE_URL: h.db.url, NATS_URL: url, HERALD_STREAM_PREFIX: h.prefix, HERALD_TOPIC: topic,
        HERALD_ACK_WAIT_MS: String(ackWaitMs) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const queue = await h.make({ ackWaitMs });
      await queue.enqueue(h.sql, [{ topic, payload: { n: 1 } }]);
      const line = await Promise.race([
        once(createInterface({ input: child.stdout! }), 'line').then(([l]) => String(l)),
        exited.then(() => assert.fail('the claimer process exited before it claimed')),
      ]);
      const held = JSON.parse(line) as Job;
      assert.equal(held.attempt, 1);
      // Alive, the child keeps its 10-minute lease past ack_wait with +WPI.
      assert.deepEqual(await queue.claim(topic, { ...claimNow, waitMs: ackWaitMs * 2 }), [], 'taken from a live claimer');
      child.kill('SIGKILL');
      await exited;
      const killed = Date.now();
      const [again] = await queue.claim(topic, { ...claimNow, waitMs: 10_000 });
      assert.equal(again?.id, held.id);
      assert.equal(again?.attempt, 2);
      assert.ok(Date.now() - killed <= ackWaitMs + 1_000, `came back ${Date.now() - killed} ms after the kill`);
      await queue.ack([again!]);
    } finally {
      child.kill('SIGKILL');
      await h.close();
    }
  });

  withHarness('dead-letters a job its claimers keep dying on, once it comes back past maxAttempts', async (h) => {
    const queue = await h.make({ maxAttempts: 1 });
    await queue.enqueue(h.sql, [{ topic, payload: 'poison' }]);
    const attempts: number[] = [];
    for (let i = 0; i < 8; i++) {
      // Each claimer "dies": its 1 ms lease runs out without an ack, retry or dead letter.
      const jobs = await queue.claim(topic, { ...claimNow, leaseMs: 1, waitMs: 2_000 });
      if (!jobs.length) break;
      attempts.push(...jobs.map((j) => j.attempt));
    }
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    const [dead] = await h.sql<{ last_error: string; attempts: number }[]>`select last_error, attempts from dead_jobs`;
    assert.match(dead?.last_error ?? '', /keep dying/);
    assert.equal(dead?.attempts, 5);
    assert.equal((await queue.stats()).find((s) => s.topic === topic)?.depth, 0);
  });

  withHarness('creates the stream and the known topics\' consumers at start, as the server version allows', async (h) => {
    const queue = await h.make({ topics: [topic], ackWaitMs: 20_000 });
    const names = jobNames(h.prefix);
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = (await jsm.streams.info(names.stream)).config;
      assert.deepEqual([stream.storage, stream.retention, stream.discard, stream.duplicate_window], ['file', 'workqueue', 'new', 600e9]);
      const consumer = (await jsm.consumers.info(names.stream, names.consumer(topic))).config;
      assert.equal(consumer.ack_wait, 20e9);
      assert.equal(consumer.ack_policy, AckPolicy.Explicit);
      assert.equal(consumer.max_deliver, -1);
      const v = nc.info!.version;
      assert.equal(consumer.metadata?.['herald.topic'] === topic, atLeast(v, '2.10.0'), `metadata on nats-server ${v}`);
      // A second start with another ack_wait updates the consumer in place.
      await h.make({ topics: [topic], ackWaitMs: 25_000 });
      assert.equal((await jsm.consumers.info(names.stream, names.consumer(topic))).config.ack_wait, 25e9);
    } finally {
      await nc.close();
    }
    assert.equal(await queue.ping(), true);
  });

  withHarness('refuses to start on a stream that would lose jobs', async (h) => {
    const names = jobNames(h.prefix);
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: names.stream, subjects: [names.streamSubjects], storage: StorageType.Memory,
        retention: RetentionPolicy.Workqueue, discard: DiscardPolicy.New });
      await assert.rejects(h.make(), /memory stream loses every job/);
      await jsm.streams.delete(names.stream);
      await jsm.streams.add({ name: names.stream, subjects: [names.streamSubjects], storage: StorageType.File,
        retention: RetentionPolicy.Workqueue, discard: DiscardPolicy.Old });
      await assert.rejects(h.make(), /discard is old/);
    } finally {
      await nc.close();
    }
  });

  // The server behaviour leases.ts's fencing exists for; if a nats-server upgrade changes it, this says so.
  withHarness('nats-server applies a stale ack to the job, whichever delivery it came from', async (h) => {
    const names = jobNames(h.prefix);
    await h.make(); // creates the stream
    const nc = await connect({ servers: url });
    try {
      const jsm = await jetstreamManager(nc);
      const raw = 'raw.topic';
      await jsm.consumers.add(names.stream, { durable_name: names.consumer(raw), filter_subject: names.subject(raw),
        ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
      const js = jetstream(nc);
      await js.publish(names.subject(raw), 'x', { msgID: uuidv7() });
      const next = async () => (await pull(nc, names.stream, names.consumer(raw), { max: 1, waitMs: 2_000 }))[0]!;
      const first = await next();
      await nc.request(first.reply!, '-NAK', { timeout: 2_000 });
      const second = await next();
      assert.equal(parseAckSubject(second.reply!).deliveryCount, 2);
      // The first claimer's late ack, on its own (stale) reply subject.
      await nc.request(first.reply!, '+ACK', { timeout: 2_000 });
      const info = await jsm.consumers.info(names.stream, names.consumer(raw));
      assert.equal(info.num_ack_pending, 0, 'this server fences stale acks itself; leases.ts could rely on it');
    } finally {
      await nc.close();
    }
  });

}
