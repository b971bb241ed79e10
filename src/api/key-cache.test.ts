import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyOwner } from '../store/projects.js';
import { createKeyCache } from './key-cache.js';

function fixture(opts: { maxKnown?: number; maxUnknown?: number } = {}) {
  let now = 0;
  const looked: string[] = [];
  const owners = new Map<string, KeyOwner>();
  for (let i = 0; i < 10; i++) owners.set(`k${i}`, { projectId: `p${i}`, kind: 'sdk', keyId: `id${i}` });
  const cache = createKeyCache({
    lookup: async (key) => { looked.push(key); return owners.get(key); },
    ttlMs: 1000, maxKnown: opts.maxKnown ?? 3, maxUnknown: opts.maxUnknown ?? 2, clock: () => now,
  });
  return { cache, looked, owners, advance: (ms: number) => { now += ms; } };
}

test('known keys are kept in use order: past the bound the least recently used goes', async () => {
  const { cache, looked } = fixture();
  for (const k of ['k0', 'k1', 'k2']) await cache.get(k);
  await cache.get('k0'); // k0 is now the most recent; k1 the least
  await cache.get('k3');
  looked.length = 0;
  for (const k of ['k0', 'k2', 'k3']) assert.ok(await cache.get(k));
  assert.deepEqual(looked, [], 'still cached');
  await cache.get('k1');
  assert.deepEqual(looked, ['k1'], 'evicted, looked up again');
});

test('unknown keys have their own smaller bound and never evict known ones', async () => {
  const { cache, looked } = fixture();
  for (const k of ['k0', 'k1', 'k2']) await cache.get(k);
  for (let i = 0; i < 100; i++) assert.equal(await cache.get(`bad${i}`), undefined);
  looked.length = 0;
  for (const k of ['k0', 'k1', 'k2']) assert.ok(await cache.get(k));
  assert.deepEqual(looked, []);
  assert.equal(await cache.get('bad99'), undefined);
  assert.deepEqual(looked, [], 'a recent unknown key is remembered');
  assert.equal(await cache.get('bad0'), undefined);
  assert.deepEqual(looked, ['bad0'], 'an old one was dropped');
});

test('answers expire after the TTL; a key forgotten by id is looked up again at once', async () => {
  const { cache, looked, owners, advance } = fixture();
  await cache.get('k0');
  advance(999);
  await cache.get('k0');
  assert.deepEqual(looked, ['k0']);
  advance(1);
  await cache.get('k0');
  assert.deepEqual(looked, ['k0', 'k0'], 'expired');
  owners.delete('k0'); // revoked
  cache.forgetKeyId('id0');
  assert.equal(await cache.get('k0'), undefined);
});

test('concurrent lookups of one key share one read; a read overtaken by a revocation is not kept', async () => {
  const { cache, looked, owners } = fixture();
  const all = await Promise.all([cache.get('k1'), cache.get('k1'), cache.get('k1')]);
  assert.deepEqual(looked, ['k1']);
  assert.ok(all.every((o) => o?.keyId === 'id1'));
  const inFlight = cache.get('k2'); // read starts before the revocation commits...
  owners.delete('k2');
  cache.forgetKeyId('id2'); // ...and the revocation lands before the read returns
  assert.ok(await inFlight);
  assert.equal(await cache.get('k2'), undefined, 'the stale answer was not cached');
});
