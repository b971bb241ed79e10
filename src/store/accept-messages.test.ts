import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabase, type TestDatabase } from '../../test/support/database.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import { silentLogger } from '../observability/logger.js';
import { uuidv7 } from '../domain/ids.js';
import { createProject } from './projects.js';
import { testMasterKey } from '../../test/support/keyring.js';
import { acceptMessages, type AcceptRequest, type AcceptResult } from './accept-messages.js';
import { createGroupCommit, inTransaction } from './group-commit.js';
import type { WorkQueue } from '../queue/queue.js';

let db: TestDatabase;
let queue: WorkQueue;
let projectId: string;
before(async () => {
  db = await testDatabase();
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 3 });
  projectId = (await createProject(db.sql, 'accept', testMasterKey().keyring)).project_id;
});
after(async () => { await queue.close(); await db.close(); });

const fanout = (id: string) => ({ topic: 'message.fanout', payload: { message_id: id } });
const request = (key?: string, hash = 'a'): AcceptRequest => ({
  message: { id: uuidv7(), projectId, groupId: 'g', recipients: { custom_ids: ['u'] }, content: { push: { title: 't', body: 'b' } }, createdAt: new Date(), expiresAt: null },
  idempotency: key === undefined ? undefined : { key, hash: Buffer.from(hash) },
});
const count = async (table: string) => (await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(table)}`)[0]!.n;

test('a batch stores its messages and their fan-out jobs together, in one transaction', async () => {
  const before = [await count('messages'), await count('jobs')];
  const results = await db.sql.begin((tx) => acceptMessages(tx, queue, fanout, [request(), request(), request()]));
  assert.deepEqual(results.map((r) => r.kind), ['accepted', 'accepted', 'accepted']);
  assert.deepEqual([await count('messages'), await count('jobs')], [before[0]! + 3, before[1]! + 3]);
});

test('a key named twice in one batch makes one message; the same body replays it, another is a mismatch', async () => {
  const before = await count('messages');
  const [first, same, other] = [request('k-batch', 'x'), request('k-batch', 'x'), request('k-batch', 'y')];
  const results = await db.sql.begin((tx) => acceptMessages(tx, queue, fanout, [first!, same!, other!]));
  assert.equal(results[0]!.kind, 'accepted');
  assert.deepEqual(results[1], { kind: 'replay', status: 202, body: { message_id: first!.message.id } });
  assert.deepEqual(results[2], { kind: 'mismatch' });
  assert.equal(await count('messages'), before + 1);
  // A later batch sees the committed key.
  const [again] = await db.sql.begin((tx) => acceptMessages(tx, queue, fanout, [request('k-batch', 'x')]));
  assert.deepEqual(again, { kind: 'replay', status: 202, body: { message_id: first!.message.id } });
});

test('a rolled-back batch stores nothing, keys included', async () => {
  const before = [await count('messages'), await count('idempotency_keys')];
  await assert.rejects(db.sql.begin(async (tx) => {
    await acceptMessages(tx, queue, fanout, [request('k-rollback'), request()]);
    throw new Error('crash before commit');
  }));
  assert.deepEqual([await count('messages'), await count('idempotency_keys')], before);
});

test('group commit answers every caller with its own result and shares transactions under load', async () => {
  let transactions = 0;
  const accept = createGroupCommit<AcceptRequest, AcceptResult>({
    maxBatch: 50, maxConcurrent: 2,
    commit: inTransaction(db.sql, (tx, rs: AcceptRequest[]) => { transactions++; return acceptMessages(tx, queue, fanout, rs); }),
  });
  const requests = Array.from({ length: 200 }, () => request());
  const results = await Promise.all(requests.map((r) => accept(r)));
  results.forEach((r, i) => assert.deepEqual(r, { kind: 'accepted', status: 202, body: { message_id: requests[i]!.message.id } }));
  assert.ok(transactions < 200 / 2, `${transactions} transactions for 200 requests`);
  assert.ok(transactions >= 4);
});

test('when the transaction fails, every caller of the batch gets the error', async () => {
  const accept = createGroupCommit<number, number>({
    maxBatch: 10, maxConcurrent: 1,
    commit: inTransaction(db.sql, async (tx, items: number[]) => {
      await tx`select 1/0`;
      return items;
    }),
  });
  const outcomes = await Promise.allSettled([1, 2, 3].map((i) => accept(i)));
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected']);
});
