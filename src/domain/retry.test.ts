import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelayMs } from './retry.js';

test('backoff doubles per attempt within jitter bounds and is capped', () => {
  const policy = { baseMs: 1000, maxMs: 8000 };
  assert.equal(retryDelayMs(1, undefined, policy, () => 0), 500);
  assert.equal(retryDelayMs(1, undefined, policy, () => 1), 1000);
  assert.equal(retryDelayMs(3, undefined, policy, () => 1), 4000);
  assert.equal(retryDelayMs(10, undefined, policy, () => 1), 8000);
});

test('never retries sooner than Retry-After', () => {
  assert.equal(retryDelayMs(1, 30_000, { baseMs: 1000, maxMs: 8000 }, () => 0.5), 30_000);
});
