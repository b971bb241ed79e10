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

test('a shared commit that fails fails every request in it, and answers none of them with a result', async () => {
  const { calls, commit } = gatedCommits();
  const submit = createGroupCommit({ commit, maxBatch: 10, maxConcurrent: 1 });
  const first = track(submit(1));
  const shared = [2, 3, 4].map((i) => track(submit(i)));
  await settled();
  calls[0]!.finish();
  await settled();
  calls[1]!.fail(new Error('the transaction rolled back'));
  const after = track(submit(5));
  await settled();
  assert.deepEqual(first.outcome, { value: 10 });
  assert.deepEqual(shared.map((t) => t.outcome), Array(3).fill({ error: 'the transaction rolled back' }));
  assert.deepEqual(calls.map((c) => c.items), [[1], [2, 3, 4], [5]], 'the next request gets a commit of its own');
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
