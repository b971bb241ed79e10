import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { testDatabase } from '../../test/support/database.js';
import { silentLogger } from '../observability/logger.js';
import { uuidv7 } from '../domain/ids.js';
import { createOutboxRelay, RelayPublishError, type OutboxPublisher, type OutboxRelay, type PublishResult } from './outbox-relay.js';
import { insertOutbox, outboxChannel, type OutboxRow } from './outbox.js';
import { eventually } from '../../test/support/eventually.js';
import { testClock, type TestClock } from '../../test/support/clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A transport that records what it was given; `fail` decides per call whether it is down,
 *  `refuse` per row and call whether that one publish fails. */
function fakePublisher(o: {
  ready?: boolean; fail?: (call: number) => boolean; refuse?: (id: string, call: number) => boolean; delayMs?: () => number;
  clock?: TestClock;
} = {}) {
  let ready = o.ready ?? true;
  let calls = 0;
  /** How many times the relay asked whether the transport is ready. */
  let asks = 0;
  const callbacks = new Set<() => void>();
  const delivered: { id: string; at: number }[] = [];
  const publisher: OutboxPublisher = {
    ready: () => {
      asks++;
      return ready;
    },
    onReady: (cb) => {
      callbacks.add(cb);
      return () => callbacks.delete(cb);
    },
    async publish(rows: OutboxRow[]): Promise<PublishResult[]> {
      const call = ++calls;
      if (o.delayMs) await sleep(o.delayMs());
      if (o.fail?.(call)) return rows.map((r) => ({ id: r.id, ok: false, error: new Error('transport down') }));
      return rows.map((r) => {
        if (o.refuse?.(r.id, call)) return { id: r.id, ok: false, error: new Error('maximum bytes exceeded') };
        delivered.push({ id: r.id, at: (o.clock ?? Date).now() });
        return { id: r.id, ok: true, duplicate: false };
      });
    },
  };
  return {
    publisher,
    delivered,
    calls: () => calls,
    asks: () => asks,
    becomeReady() {
      ready = true;
      for (const cb of callbacks) cb();
    },
  };
}

const rowsLeft = async (sql: Sql) => (await sql<{ n: number }[]>`select count(*)::int as n from job_outbox`)[0]!.n;
const newRows = (n: number, runAt?: Date) =>
  Array.from({ length: n }, (_, i) => ({ id: uuidv7(), topic: 'relay.test', payloadJson: JSON.stringify({ i }), runAt }));

async function withRelays(body: (sql: Sql, track: (r: OutboxRelay) => OutboxRelay) => Promise<void>): Promise<void> {
  const db = await testDatabase();
  const relays: OutboxRelay[] = [];
  try {
    await body(db.sql, (r) => (relays.push(r), r));
  } finally {
    await Promise.all(relays.map((r) => r.close()));
    await db.close();
  }
}

test('relays committed rows once each and deletes them, and never a rolled-back one', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  const t = fakePublisher();
  track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher })).start();
  const committed = newRows(3);
  await sql.begin((tx) => insertOutbox(tx, committed, new Date()));
  await assert.rejects(sql.begin(async (tx) => {
    await insertOutbox(tx, newRows(2), new Date());
    throw new Error('roll back');
  }));
  await eventually(async () => (await rowsLeft(sql)) === 0, undefined, 'the outbox is empty');
  assert.deepEqual(t.delivered.map((d) => d.id).sort(), committed.map((r) => r.id).sort());
}));

test('keeps rows the transport refused and publishes them after a back-off', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  const clock = testClock();
  const t = fakePublisher({ fail: (call) => call <= 2 });
  track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher, clock })).start();
  const rows = newRows(5);
  await insertOutbox(sql, rows, new Date(clock.now()));
  // Each look moves the clock past the longest back-off so far (250 ms doubling).
  await eventually(async () => {
    clock.advance(1_000);
    return (await rowsLeft(sql)) === 0;
  }, undefined, 'the outbox is empty');
  assert.ok(t.calls() >= 3);
  assert.deepEqual(t.delivered.map((d) => d.id).sort(), rows.map((r) => r.id).sort(), 'a row was lost or sent twice');
}));

test('a publish that fails in a batch leaves exactly its row, and a later pass publishes it once', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  const rows = newRows(20);
  const unlucky = rows[7]!.id;
  const t = fakePublisher({ refuse: (id, call) => id === unlucky && call === 1 });
  const clock = testClock();
  const relay = track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher, clock }));
  await insertOutbox(sql, rows, new Date(clock.now()));
  await assert.rejects(relay.flush('relay.test'), RelayPublishError);
  const left = await sql<{ id: string }[]>`select id from job_outbox`;
  assert.deepEqual(left.map((r) => r.id), [unlucky], 'only the row whose publish failed stays in the outbox');
  assert.equal(await relay.flush('relay.test'), 0, 'a flush during the back-off publishes nothing');
  clock.advance(500); // past the first back-off (250 ms, jittered down to half)
  assert.equal(await relay.flush('relay.test'), 1, 'a pass after the back-off published the row');
  assert.equal(await rowsLeft(sql), 0);
  const ids = t.delivered.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'a row was published twice');
  assert.deepEqual([...ids].sort(), rows.map((r) => r.id).sort());
  assert.equal(ids.at(-1), unlucky);
}));

test('several relays share the outbox without publishing a row twice', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  const t = fakePublisher({ delayMs: () => Math.random() * 10 });
  for (let i = 0; i < 3; i++) track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher, batchSize: 50 })).start();
  const rows = newRows(600);
  await insertOutbox(sql, rows, new Date());
  await eventually(async () => (await rowsLeft(sql)) === 0, 20_000, 'the outbox is empty');
  const ids = t.delivered.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'a row was published twice');
  assert.equal(ids.length, 600);
}));

test('publishes a delayed row at its run_at, not before', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  const clock = testClock();
  const t = fakePublisher({ clock });
  track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher, clock })).start();
  const runAt = new Date(clock.now() + 60_000);
  const [delayed] = newRows(1, runAt);
  await insertOutbox(sql, [delayed!], new Date(clock.now()));
  // A row due now, committed after the delayed one: once it is published, the relay has looked
  // at the outbox with the delayed row in it.
  const [now] = newRows(1);
  await insertOutbox(sql, [now!], new Date(clock.now()));
  await eventually(() => t.delivered.some((d) => d.id === now!.id), undefined, 'the row due now was published');
  assert.deepEqual(t.delivered.map((d) => d.id), [now!.id], 'published before its run_at');
  clock.advance(59_000);
  assert.equal(await track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher, clock })).flush(), 0, 'due before its run_at');
  clock.advance(1_000);
  await eventually(() => t.delivered.length === 2, undefined, 'the delayed row was published');
  assert.equal(t.delivered[1]!.id, delayed!.id);
  assert.ok(t.delivered[1]!.at >= runAt.getTime(), 'published early');
}));

test('waits while the transport is down and drains the backlog when it is ready', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  const t = fakePublisher({ ready: false });
  track(createOutboxRelay({ sql, log: silentLogger(), publisher: t.publisher })).start();
  await insertOutbox(sql, newRows(10), new Date());
  // The relay publishes exactly when it is poked with the transport ready, so a readiness check
  // after the commit is a look that would have published. The commit's own NOTIFY may be handled
  // before this line runs (it comes on the relay's connection), so poke once more, as the next
  // enqueuing commit would: the check it causes comes after the count is read.
  const before = t.asks();
  await sql`select pg_notify(${outboxChannel}, '')`;
  await eventually(() => t.asks() > before, undefined, 'the relay looked at the committed rows');
  assert.equal(t.calls(), 0, 'the relay tried a transport that said it was down');
  assert.equal(await rowsLeft(sql), 10);
  t.becomeReady();
  await eventually(async () => (await rowsLeft(sql)) === 0, undefined, 'the outbox is empty');
  assert.equal(t.delivered.length, 10);
}));

test('a flush waits for rows another relay is publishing, so it returns with them in the transport', { timeout: 30_000 }, () => withRelays(async (sql, track) => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let taken!: () => void;
  const busy = new Promise<void>((r) => (taken = r));
  const slow: OutboxPublisher = {
    ready: () => true,
    onReady: () => () => undefined,
    async publish(rows) {
      taken();
      await held;
      return rows.map((r) => ({ id: r.id, ok: true }));
    },
  };
  track(createOutboxRelay({ sql, log: silentLogger(), publisher: slow })).start();
  await insertOutbox(sql, newRows(1), new Date());
  await busy; // the other relay holds the row and is publishing it
  const flusher = track(createOutboxRelay({ sql, log: silentLogger(), publisher: fakePublisher().publisher }));
  let flushed = false;
  const flush = flusher.flush('relay.test').then(() => (flushed = true));
  // The flush's take is waiting for the row lock the publishing relay holds.
  await eventually(async () => (await sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock' and query like '%job_outbox%'`)[0]!.n > 0,
  undefined, 'the flush to wait for the locked row');
  const early = flushed;
  release();
  await flush;
  assert.equal(early, false, 'the flush returned while the row was still being published');
  assert.equal(await rowsLeft(sql), 0);
}));
