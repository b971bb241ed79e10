import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { budgetShare, shareOf } from './process-share.js';

test('a share is one over the live processes, and this process always counts', () => {
  assert.equal(shareOf(1), 1);
  assert.equal(shareOf(4), 0.25);
  assert.equal(shareOf(0), 1);
});

test('the processes\' parts of a budget never add up to more than it, unless each needs its one', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 64 }), (total, processes) => {
    const part = budgetShare(total, shareOf(processes));
    assert.ok(part >= 1);
    if (processes <= total) assert.ok(part * processes <= total, `${processes} × ${part} > ${total}`);
    else assert.equal(part, 1);
    // Rounding down loses less than one share per process.
    assert.ok(total - part * processes < processes || part === 1);
  }));
  assert.equal(budgetShare(4, shareOf(2)), 2);
  assert.equal(budgetShare(5, shareOf(3)), 1);
  assert.equal(budgetShare(6, shareOf(3)), 2);
});
