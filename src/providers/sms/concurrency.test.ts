import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSemaphore } from './concurrency.js';

test('at most `limit` holders; waiters get slots in arrival order; a double release frees one slot', async () => {
  const s = createSemaphore(2);
  const r1 = await s.acquire();
  const r2 = await s.acquire();
  const order: number[] = [];
  const w3 = s.acquire().then((r) => { order.push(3); return r; });
  const w4 = s.acquire().then((r) => { order.push(4); return r; });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([s.inUse, s.waiting, order.length], [2, 2, 0]);
  r1();
  r1();
  const r3 = await w3;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [3], 'the second release of the same slot did nothing');
  r2();
  const r4 = await w4;
  assert.deepEqual(order, [3, 4]);
  r3();
  r4();
  assert.deepEqual([s.inUse, s.waiting], [0, 0]);
  assert.throws(() => createSemaphore(0), RangeError);
});

test('a limit read on every use: a shrunk limit is honoured as slots come back, a grown one wakes waiters', async () => {
  let limit = 2;
  const s = createSemaphore(() => limit);
  const r1 = await s.acquire();
  const r2 = await s.acquire();
  const woken: number[] = [];
  const waiters = [3, 4, 5].map((n) => s.acquire().then((r) => { woken.push(n); return r; }));
  limit = 1; // another worker process joined: this one's share halves
  r1();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([s.inUse, woken], [1, []], 'the released slot was given up, not passed on');
  limit = 3; // two processes left
  r2();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([s.inUse, woken], [3, [3, 4, 5]]);
  for (const r of await Promise.all(waiters)) r();
  assert.deepEqual([s.inUse, s.waiting], [0, 0]);
});
