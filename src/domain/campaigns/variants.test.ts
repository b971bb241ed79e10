import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignVariant, controlVariant, type Split } from './variants.js';

const n = 200_000;
// Ids as projects name profiles: sequential with a prefix, and random UUIDs.
const sequential = Array.from({ length: n }, (_, i) => `user-${i}`);
const uuids = Array.from({ length: n }, () => crypto.randomUUID());

/** Each share within 4.5 standard deviations of its binomial expectation: a false alarm about once in 150,000 runs per share. */
function assertSplit(split: Split, campaign: string, ids: readonly string[]) {
  const counts = new Map<number, number>();
  for (const id of ids) {
    const v = assignVariant(split, campaign, id);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const total = split.variants.reduce((a, b) => a + b, 0);
  const shares = new Map<number, number>([[controlVariant, split.control / 100]]);
  split.variants.forEach((p, i) => shares.set(i, ((100 - split.control) / 100) * (p / total)));
  for (const [v, p] of shares) {
    const expected = ids.length * p;
    const sd = Math.sqrt(ids.length * p * (1 - p));
    const got = counts.get(v) ?? 0;
    assert.ok(Math.abs(got - expected) <= 4.5 * sd + 1e-9, `variant ${v}: ${got} of ${ids.length}, expected ${expected.toFixed(0)} ± ${(4.5 * sd).toFixed(0)}`);
  }
  assert.deepEqual([...counts.keys()].filter((v) => !shares.has(v)), [], 'no variant outside the split');
}

test('A/B splits land within statistical bounds of their percentages, for sequential ids and UUIDs alike', () => {
  const splits: Split[] = [
    { variants: [50, 50], control: 0 },
    { variants: [45, 45], control: 10 },
    { variants: [10, 20, 30, 40], control: 0 },
    { variants: [12, 12, 12, 12, 12, 12, 12, 11], control: 5 },
    { variants: [1, 99], control: 1 },
    // Shares summing to under 100: the rest is spread over the variants in proportion.
    { variants: [20, 20], control: 20 },
  ];
  for (const [i, split] of splits.entries()) {
    assertSplit(split, `0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a${i.toString().padStart(2, '0')}`, sequential);
    assertSplit(split, `0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1b${i.toString().padStart(2, '0')}`, uuids);
  }
});

test('a profile keeps its variant in a campaign; two campaigns split the same profiles independently', () => {
  const split = { variants: [50, 50], control: 0 };
  const a = '0190a1b2-c3d4-7e5f-8a6b-000000000001';
  const b = '0190a1b2-c3d4-7e5f-8a6b-000000000002';
  for (const id of sequential.slice(0, 1000)) assert.equal(assignVariant(split, a, id), assignVariant(split, a, id));
  // Independent: of campaign A's variant 0, about half are in campaign B's variant 0.
  const inA = sequential.filter((id) => assignVariant(split, a, id) === 0);
  const both = inA.filter((id) => assignVariant(split, b, id) === 0).length;
  const sd = Math.sqrt(inA.length * 0.25);
  assert.ok(Math.abs(both - inA.length / 2) <= 4.5 * sd, `${both} of ${inA.length} in both variants 0`);
});
