import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createGroupCommit } from './group-commit.js';

/** A commit function whose calls wait until the test lets each one finish, or fail. */
function gatedCommits() {
  const calls: { items: number[]; finish(): void; fail(err: Error): void }[] = [];
  const commit = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ items, finish: () => resolve(items.map((i) => i * 10)), fail: reject });
    });
  return { calls, commit };
}

/** Each caller's outcome, as it stands now: pending, its result, or its error's message. */
function track<R>(p: Promise<R>): { outcome: 'pending' | { value: R } | { error: string } } {
  const t: { outcome: 'pending' | { value: R } | { error: string } } = { outcome: 'pending' };
  p.then((value) => { t.outcome = { value }; }, (err: Error) => { t.outcome = { error: err.message }; });
  return t;
}

const settled = () => new Promise((r) => setImmediate(r));

test('an idle group commit commits a request alone, at once; requests arriving meanwhile share the next commit', async () => {
  const { calls, commit } = gatedCommits();
  const submit = createGroupCommit({ commit, maxBatch: 10, maxConcurrent: 1 });
  const first = track(submit(1));
  await settled();
  assert.deepEqual(calls.map((c) => c.items), [[1]]);
  const later = [2, 3, 4].map((i) => track(submit(i)));
  await settled();
  assert.deepEqual(calls.map((c) => c.items), [[1]], 'one commit in flight at most');
  calls[0]!.finish();
  await settled();
  assert.deepEqual(first.outcome, { value: 10 });
  assert.deepEqual(calls.map((c) => c.items), [[1], [2, 3, 4]]);
  assert.ok(later.every((t) => t.outcome === 'pending'), 'nobody hears back before its own commit');
  calls[1]!.finish();
  await settled();
  assert.deepEqual(later.map((t) => t.outcome), [{ value: 20 }, { value: 30 }, { value: 40 }]);
});

/** An error as postgres.js raises it, with its SQLSTATE or driver code. */
const dbError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('a shared commit the database fails (connection lost) fails every request in it, and answers none of them with a result', async () => {
  const { calls, commit } = gatedCommits();
  const submit = createGroupCommit({ commit, maxBatch: 10, maxConcurrent: 1 });
  const first = track(submit(1));
  const shared = [2, 3, 4].map((i) => track(submit(i)));
  await settled();
  calls[0]!.finish();
  await settled();
  calls[1]!.fail(dbError('CONNECTION_CLOSED', 'the transaction rolled back'));
  const after = track(submit(5));
  await settled();
  assert.deepEqual(first.outcome, { value: 10 });
  assert.deepEqual(shared.map((t) => t.outcome), Array(3).fill({ error: 'the transaction rolled back' }));
  assert.deepEqual(calls.map((c) => c.items), [[1], [2, 3, 4], [5]], 'not retried split; the next request gets a commit of its own');
  calls[2]!.finish();
  await settled();
  assert.deepEqual(after.outcome, { value: 50 });
});

test('batches hold at most maxBatch requests, and at most maxConcurrent commits run at once', async () => {
  const { calls, commit } = gatedCommits();
  const submit = createGroupCommit({ commit, maxBatch: 2, maxConcurrent: 2 });
  const all = [1, 2, 3, 4, 5, 6].map((i) => track(submit(i)));
  await settled();
  assert.deepEqual(calls.map((c) => c.items), [[1], [2]]);
  calls[0]!.finish();
  await settled();
  assert.deepEqual(calls.map((c) => c.items), [[1], [2], [3, 4]]);
  calls[1]!.finish();
  calls[2]!.finish();
  await settled();
  assert.deepEqual(calls.map((c) => c.items), [[1], [2], [3, 4], [5, 6]]);
  calls[3]!.finish();
  await settled();
  assert.deepEqual(all.map((t) => t.outcome), [1, 2, 3, 4, 5, 6].map((i) => ({ value: i * 10 })));
});

test('a commit function that throws at once rejects its batch instead of escaping', async () => {
  const submit = createGroupCommit<number, number>({
    commit: () => { throw new Error('no connection'); },
    maxBatch: 10, maxConcurrent: 1,
  });
  await assert.rejects(submit(1), /no connection/);
});

/** A commit function, as a transaction would be: it fails whole when any item is poisoned, and stores nothing then. */
function poisonable(poisoned: (i: number) => boolean, code = '22P05') {
  const commits: number[][] = [];
  const stored: number[] = [];
  const commit = async (items: number[]) => {
    commits.push(items);
    await settled();
    if (items.some(poisoned)) throw dbError(code, `item ${items.find(poisoned)} holds a value PostgreSQL refuses`);
    stored.push(...items);
    return items.map((i) => i * 10);
  };
  return { commits, stored, commit };
}

test('one poisoned item among many sharing a commit: only it is refused, every other is committed once and answered', async () => {
  const { commits, stored, commit } = poisonable((i) => i === 137);
  const submit = createGroupCommit({ commit, maxBatch: 200, maxConcurrent: 2 });
  const items = Array.from({ length: 300 }, (_, i) => i);
  const outcomes = await Promise.allSettled(items.map((i) => submit(i)));
  const refused = items.filter((i) => outcomes[i]!.status === 'rejected');
  assert.deepEqual(refused, [137]);
  assert.match(String((outcomes[137] as PromiseRejectedResult).reason), /item 137/);
  for (const i of items) if (i !== 137) assert.deepEqual(outcomes[i], { status: 'fulfilled', value: i * 10 });
  assert.deepEqual([...stored].sort((a, b) => a - b), items.filter((i) => i !== 137), 'each good item stored once');
  assert.ok(commits.some((c) => c.length > 1 && c.includes(137)), 'the poisoned item did share a commit with others');
  assert.ok(commits.length < 40, `bisected, not one commit per item: ${commits.length} commits`);
});

test('several poisoned items, a data error of any kind: each refused alone, the rest committed', async () => {
  const bad = new Set([0, 5, 6, 63]);
  const { stored, commit } = poisonable((i) => bad.has(i), '23505');
  const submit = createGroupCommit({ commit, maxBatch: 64, maxConcurrent: 1 });
  const items = Array.from({ length: 64 }, (_, i) => i);
  const outcomes = await Promise.allSettled(items.map((i) => submit(i)));
  assert.deepEqual(items.filter((i) => outcomes[i]!.status === 'rejected'), [...bad]);
  assert.equal(new Set(stored).size, stored.length);
  assert.equal(stored.length, 60);
});

test('a commit that fails for the database (statement timeout, server down) is not retried split', async () => {
  for (const code of ['57014', '08006', 'ECONNREFUSED', '40P01']) {
    const { commits, commit } = poisonable(() => true, code);
    const submit = createGroupCommit({ commit, maxBatch: 10, maxConcurrent: 1 });
    const first = submit(0);
    const shared = [1, 2, 3, 4].map((i) => submit(i));
    const outcomes = await Promise.allSettled([first, ...shared]);
    assert.ok(outcomes.every((o) => o.status === 'rejected'), code);
    assert.deepEqual(commits, [[0], [1, 2, 3, 4]], `${code}: one commit per batch, as before`);
  }
});
