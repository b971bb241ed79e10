import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenBucket } from './token-bucket.js';

test('a full bucket grants up to its burst, then asks to wait until the tokens flow back', () => {
  const b = createTokenBucket({ ratePerSecond: 100, burst: 10 });
  assert.equal(b.take(10, 0), 0);
  assert.equal(b.take(5, 0), 50);
  assert.equal(b.take(5, 20), 30);
  assert.equal(b.take(5, 50), 0);
});

test('a refused request takes nothing', () => {
  const b = createTokenBucket({ ratePerSecond: 10, burst: 10 });
  assert.equal(b.take(8, 0), 0);
  assert.ok(b.take(5, 0) > 0);
  assert.equal(b.take(2, 0), 0);
});

test('tokens never pile up beyond the burst', () => {
  const b = createTokenBucket({ ratePerSecond: 1000, burst: 10 });
  assert.equal(b.take(1, 0), 0);
  assert.equal(b.take(10, 1_000_000), 0);
  assert.ok(b.take(1, 1_000_000) > 0);
});
