/**
 * NATS outages: Herald keeps accepting work while NATS is unreachable (it waits in the PostgreSQL
 * outbox) and delivers it once NATS answers. Each test runs a nats-server of its own
 * (`nats-server -js -p PORT -sd DIR`) so it can stop and start it; skipped without the binary,
 * except under CI.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../queue.js';
import { natsServerInstalled, privateNats } from '../../../test/support/jetstream/nats.js';
import { ci, claimNow, eventually, harness, outboxRows, payloads, topic } from '../../../test/support/jetstream/harness.js';
import { freePort } from '../../../test/support/process.js';

const installed = await natsServerInstalled();
/** A test with a nats-server of its own; skipped without the binary, failed under CI. */
const serverTest = (name: string, body: (port: number) => Promise<void>) =>
  test(`jetstream queue: ${name}`, { timeout: 60_000, skip: !installed && !ci ? 'no nats-server binary on PATH' : false }, async () => {
    if (!installed) assert.fail('no nats-server binary on PATH (apt-get install nats-server)');
    await body(await freePort());
  });

serverTest('a job enqueued before NATS was ever reachable waits in the outbox and is delivered once it answers', async (port) => {
  const nats = await privateNats(port, { started: false });
  const h = await harness(nats.url);
  try {
    const queue = await h.make({ connectWaitMs: 100 });
    await h.sql.begin((t) => queue.enqueue(t, [{ topic, payload: { n: 1 } }]));
    assert.equal(await outboxRows(h.sql), 1);
    assert.equal(await queue.ping(), false);
    await assert.rejects(queue.claim(topic, claimNow), /not reachable/);
    await nats.start();
    await eventually(async () => (await outboxRows(h.sql)) === 0, 15_000, 'the relay drained the outbox');
    const jobs = await queue.claim(topic, { ...claimNow, waitMs: 5_000 });
    assert.deepEqual(payloads(jobs), [{ n: 1 }]);
    await queue.ack(jobs);
    assert.equal(await queue.ping(), true);
  } finally {
    await h.close().catch(() => undefined);
    await nats.destroy();
  }
});

serverTest('keeps accepting while NATS is down and drains the backlog once it is back', async (port) => {
  const nats = await privateNats(port);
  const h = await harness(nats.url);
  try {
    const queue = await h.make();
    await queue.enqueue(h.sql, [{ topic, payload: 0 }]);
    const [first] = await queue.claim(topic, { ...claimNow, waitMs: 5_000 });
    await queue.ack([first!]);
    await nats.stop('SIGKILL');
    await eventually(async () => (await queue.ping()) === false, 15_000, 'the queue to see NATS down');
    await h.sql.begin((t) => queue.enqueue(t, Array.from({ length: 20 }, (_, n) => ({ topic, payload: n + 1 }))));
    // A claim first relays its topic's committed rows, so this is a look at the backlog that
    // would have published it; with NATS down it refuses and the rows stay.
    await assert.rejects(queue.claim(topic, claimNow), /not reachable|not connected/);
    assert.equal(await outboxRows(h.sql), 20, 'rows left the outbox while NATS was down');
    // The operator still sees the backlog (PostgreSQL's part of it) and its age while NATS is down.
    const down = (await queue.stats()).find((s) => s.topic === topic);
    assert.equal(down?.depth, 20);
    assert.ok(down.oldestAgeSeconds >= 0 && down.oldestAgeSeconds < 60, `oldest ${down.oldestAgeSeconds} s`);
    await nats.start();
    await eventually(async () => (await outboxRows(h.sql)) === 0, 20_000, 'the relay drained the outbox after the restart');
    const got: Job[] = [];
    // Claimed until all 20 came (a loaded machine hands them out over several claims), or the deadline fails it.
    await eventually(async () => {
      got.push(...(await queue.claim(topic, { ...claimNow, waitMs: 1_000 })));
      return got.length >= 20;
    }, 20_000, 'all 20 jobs claimed');
    assert.deepEqual(got.map((j) => j.payload).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 20 }, (_, n) => n + 1));
    assert.ok(got.every((j) => j.attempt === 1));
    await queue.ack(got);
  } finally {
    await h.close().catch(() => undefined);
    await nats.destroy();
  }
});
