import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryingConflicts } from './database-errors.js';

const failing = (codes: string[]) => {
  let calls = 0;
  return {
    run: async () => {
      const code = codes[calls++];
      if (code !== undefined) throw Object.assign(new Error(code), { code });
      return calls;
    },
    calls: () => calls,
  };
};

test('a statement rolled back for a deadlock runs again, up to three times; anything else fails at once', async () => {
  const twice = failing(['40P01', '40001']);
  assert.equal(await retryingConflicts(false, twice.run), 3);
  const always = failing(['40P01', '40P01', '40P01', '40P01']);
  await assert.rejects(retryingConflicts(false, always.run), { code: '40P01' });
  assert.equal(always.calls(), 3);
  const unique = failing(['23505']);
  await assert.rejects(retryingConflicts(false, unique.run), { code: '23505' });
  assert.equal(unique.calls(), 1);
  // Inside a transaction the deadlock aborted the whole of it: nothing to run again here.
  const inTx = failing(['40P01']);
  await assert.rejects(retryingConflicts(true, inTx.run), { code: '40P01' });
  assert.equal(inTx.calls(), 1);
});
