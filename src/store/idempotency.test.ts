import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { createProject } from './projects.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { claimIdempotencyKeys, deleteExpiredIdempotencyKeys, requestHash } from './idempotency.js';

let db: TestDatabase;
let projectId: string;
before(async () => {
  db = await testDatabase();
  projectId = (await createProject(db.sql, 'keys', testMasterKey().keyring)).project_id;
});
after(async () => { await db.close(); });

const claim = (key: string, body: unknown) =>
  db.sql.begin((tx) => claimIdempotencyKeys(tx, [{ projectId, key, hash: requestHash('POST', '/x', body), response: { status: 202, body: { k: key } } }]));

test('a key is kept at least 24 hours, and removed by upkeep after its retention', async () => {
  await claim('young', 1);
  await claim('day-old', 1);
  await claim('old', 1);
  await db.sql`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'day-old'`;
  await db.sql`update idempotency_keys set created_at = now() - interval '49 hours' where key = 'old'`;
  assert.equal(await deleteExpiredIdempotencyKeys(db.sql, new Date()), 1);
  const left = (await db.sql<{ key: string }[]>`select key from idempotency_keys order by key`).map((r) => r.key);
  assert.deepEqual(left, ['day-old', 'young']);
  // A day-old key still replays its first answer.
  assert.deepEqual(await claim('day-old', 1), [{ kind: 'existing', hash: requestHash('POST', '/x', 1), status: 202, body: { k: 'day-old' } }]);
});

test('the request hash covers method, path and body', () => {
  const h = requestHash('POST', '/a', { x: 1 });
  assert.ok(h.equals(requestHash('POST', '/a', { x: 1 })));
  assert.ok(!h.equals(requestHash('POST', '/b', { x: 1 })));
  assert.ok(!h.equals(requestHash('PUT', '/a', { x: 1 })));
  assert.ok(!h.equals(requestHash('POST', '/a', { x: 2 })));
});
