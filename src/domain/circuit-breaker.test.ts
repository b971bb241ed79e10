import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createCircuitBreakers, type BreakerPolicy } from './circuit-breaker.js';

const policy: BreakerPolicy = { failureThreshold: 3, openMs: 10_000, maxOpenMs: 40_000 };

test('stays closed below the threshold, opens at it, and parks calls until the open period ends', () => {
  const b = createCircuitBreakers(policy);
  b.record('a', 'provider_down', 0);
  b.record('a', 'provider_down', 1);
  assert.deepEqual(b.admit('a', 2), { kind: 'send' });
  b.record('a', 'provider_down', 2);
  assert.deepEqual(b.admit('a', 3), { kind: 'park', forMs: 9_999 });
  assert.equal(b.openCount(3), 1);
  assert.deepEqual(b.admit('other', 3), { kind: 'send' }, 'accounts are independent');
});

test('a success in between resets the count: only consecutive failures open it', () => {
  const b = createCircuitBreakers(policy);
  b.record('a', 'provider_down', 0);
  b.record('a', 'provider_down', 0);
  b.record('a', 'delivered', 0);
  b.record('a', 'provider_down', 0);
  b.record('a', 'provider_down', 0);
  assert.deepEqual(b.admit('a', 0), { kind: 'send' });
});

test('after the open period exactly one probe goes; its failure doubles the period, its success closes', () => {
  const b = createCircuitBreakers(policy);
  for (let i = 0; i < 3; i++) b.record('a', 'provider_down', 0);
  assert.deepEqual(b.admit('a', 10_000), { kind: 'send' }, 'the probe');
  assert.equal(b.admit('a', 10_001).kind, 'park', 'only one probe at a time');
  b.record('a', 'provider_down', 10_050);
  assert.deepEqual(b.admit('a', 10_051), { kind: 'park', forMs: 19_999 }, 'open twice as long');
  assert.deepEqual(b.admit('a', 30_050), { kind: 'send' });
  b.record('a', 'rejected', 30_060); // the provider answered: it is up
  assert.deepEqual(b.admit('a', 30_061), { kind: 'send' });
  assert.equal(b.openCount(30_061), 0);
});

test('the open period never exceeds the maximum; a probe that never happened releases the slot', () => {
  const b = createCircuitBreakers(policy);
  let now = 0;
  for (let i = 0; i < 3; i++) b.record('a', 'provider_down', now);
  for (let i = 0; i < 6; i++) {
    const a = b.admit('a', (now += 100_000));
    assert.equal(a.kind, 'send');
    b.record('a', 'provider_down', now);
  }
  assert.deepEqual(b.admit('a', now + 1), { kind: 'park', forMs: 39_999 });
  assert.equal(b.admit('a', now + 40_000).kind, 'send');
  b.record('a', undefined, now + 40_000);
  assert.equal(b.admit('a', now + 40_001).kind, 'send', 'the released slot lets another probe go');
});

test('property: while open (before its period ends), nothing is admitted', () => {
  fc.assert(fc.property(fc.array(fc.constantFrom('provider_down', 'delivered', 'retry') as fc.Arbitrary<'provider_down' | 'delivered' | 'retry'>, { maxLength: 30 }), fc.nat(9_999), (outcomes, dt) => {
    const b = createCircuitBreakers(policy);
    outcomes.forEach((o) => b.record('a', o, 0));
    const trailingDown = outcomes.length - 1 - outcomes.findLastIndex((o) => o !== 'provider_down');
    const open = trailingDown >= policy.failureThreshold;
    assert.equal(b.admit('a', dt).kind, open ? 'park' : 'send');
  }));
});
