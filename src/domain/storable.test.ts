import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { findUnstorable, isStorableText, jsonHasUnstorableText, maxJsonDepth } from './storable.js';

test('U+0000 and unpaired surrogates are unstorable; pairs and other text are fine', () => {
  for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udc00\ud800', 'ok\ud83d']) assert.equal(isStorableText(bad), false, JSON.stringify(bad));
  for (const good of ['', 'plain', '😀', '\ud83d\ude00 and more', '\u0001\uffff', 'é']) assert.equal(isStorableText(good), true, JSON.stringify(good));
});

test('findUnstorable names the path of a value, the parent of a key, in document order', () => {
  assert.equal(findUnstorable({ a: 'x', b: [1, 'y', { c: true }] }), undefined);
  assert.deepEqual(findUnstorable({ push: { data: { k: '\u0000' } } })?.field, 'push.data.k');
  assert.deepEqual(findUnstorable({ recipients: { custom_ids: ['ok', 'u\ud800'] } })?.field, 'recipients.custom_ids[1]');
  assert.deepEqual(findUnstorable([{ attributes: { ok: 1 } }, { attributes: { n: JSON.parse("1e309") as number } }]), {
    field: '[1].attributes.n', problem: 'must be a finite number (this one overflows a double)',
  });
  const key = findUnstorable({ push: { data: { 'k\u0000': 1 } } });
  assert.deepEqual(key, { field: 'push.data', problem: 'has a key that contains U+0000 or an unpaired surrogate' });
  assert.equal(findUnstorable('\u0000')?.field, '');
  assert.equal(findUnstorable({ a: '\u0000', b: '\ud800' })?.field, 'a', 'the first in document order');
  assert.equal(findUnstorable({ a: -Infinity })?.field, 'a');
});

test('only arrays and plain objects are walked; deep nesting is refused without exhausting the stack', () => {
  assert.equal(findUnstorable(new Map([['k', '\u0000']])), undefined);
  assert.equal(findUnstorable(Object.assign(Object.create(null), { k: '\u0000' }))?.field, 'k');
  let deep: unknown = 'leaf';
  for (let i = 0; i < 200_000; i++) deep = [deep];
  assert.match(findUnstorable({ d: deep })?.problem ?? '', new RegExp(`more than ${maxJsonDepth} levels`));
  let fine: unknown = 'leaf';
  for (let i = 0; i < maxJsonDepth - 1; i++) fine = { x: fine };
  assert.equal(findUnstorable(fine), undefined);
});

test('property: findUnstorable of a value agrees with the escapes JSON.stringify writes', () => {
  fc.assert(fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, s) => {
    const doc = { value, s };
    const json = JSON.stringify(doc);
    assert.equal(findUnstorable(doc) === undefined, !jsonHasUnstorableText(json), json);
  }), { numRuns: 500 });
});
