import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyAttributeChanges, InputError, limits, parseOperation, parseOperations, parseSdkChanges,
} from './profile-operations.js';

const now = new Date('2024-05-01T12:00:00Z');

function refusal(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  assert.fail('expected the input to be refused');
}

test('an operation with every kind of attribute and an event is normalised', () => {
  const op = parseOperation({
    identifiers: { custom_id: 'u1' },
    attributes: {
      plan: 'pro', age: 31, vip: true, 'date(birthdate)': '1990-04-01', 'url(site)': 'myapp://home',
      tags: ['a', 'b', 'a'], hobbies: { $add: ['chess'] }, old: { $remove: ['x'] }, gone: null, empty: [],
      $email: ' Ann@Example.COM ', $phone: '+33612345678', $language: 'FR', $region: 'fr', $timezone: 'Europe/Paris',
      $email_subscription: 'subscribed', $sms_subscription: null,
    },
    events: [{ id: 'e1', name: 'purchase', time: '2024-05-01T13:00:00+02:00', attributes: { items: [{ sku: 'x' }] } }],
  }, '', now);
  assert.deepEqual(op.attributes, {
    set: { plan: 'pro', age: 31, vip: true, birthdate: { $date: '1990-04-01T00:00:00.000Z' }, site: { $url: 'myapp://home' }, tags: ['a', 'b'] },
    unset: ['gone', 'empty'],
    add: { hobbies: ['chess'] },
    remove: { old: ['x'] },
  });
  assert.deepEqual(op.native, {
    email: 'ann@example.com', phone: '+33612345678', language: 'fr', region: 'FR', timezone: 'Europe/Paris',
    email_subscription: 'subscribed', sms_subscription: null,
  });
  assert.deepEqual(op.events, [{ clientId: 'e1', name: 'purchase', time: '2024-05-01T11:00:00.000Z', attributes: { items: [{ sku: 'x' }] } }]);
});

test('an event without time is dated now; without id it carries none', () => {
  const op = parseOperation({ identifiers: { custom_id: 'u' }, events: [{ name: 'open' }] }, '', now);
  assert.deepEqual(op.events, [{ clientId: null, name: 'open', time: now.toISOString(), attributes: {} }]);
});

test('text PostgreSQL can store passes: emoji (paired surrogates), and a backslash before "u0000" written out', () => {
  const op = parseOperation({
    identifiers: { custom_id: 'u\u{1F600}' }, attributes: { s: '\\u0000 \u{1F600}' },
    events: [{ id: 'e\u{1F600}', name: 'x', attributes: { k: '\\u0000', '\u{1F600}': '\\\\ud800' } }],
  }, '', now);
  assert.equal(op.customId, 'u\u{1F600}');
  assert.equal(op.attributes.set.s, '\\u0000 \u{1F600}');
});

const refusals: [string, unknown, string, string][] = [
  ['a missing custom_id', { identifiers: {} }, 'missing_field', '[0].identifiers.custom_id'],
  ['an unknown identifier', { identifiers: { custom_id: 'u', email: 'x' } }, 'unknown_field', '[0].identifiers.email'],
  ['an unknown top-level field', { identifiers: { custom_id: 'u' }, tags: [] }, 'unknown_field', '[0].tags'],
  ['an upper-case attribute name', { identifiers: { custom_id: 'u' }, attributes: { Plan: 'x' } }, 'invalid_field', '[0].attributes.Plan'],
  ['a 31-character name', { identifiers: { custom_id: 'u' }, attributes: { ['a'.repeat(31)]: 1 } }, 'invalid_field', `[0].attributes.${'a'.repeat(31)}`],
  ['a long string', { identifiers: { custom_id: 'u' }, attributes: { bio: 'x'.repeat(limits.stringLength + 1) } }, 'invalid_field', '[0].attributes.bio'],
  ['too many array items', { identifiers: { custom_id: 'u' }, attributes: { t: Array.from({ length: 26 }, (_, i) => 'v' + i) } }, 'invalid_field', '[0].attributes.t'],
  ['a number in a string array', { identifiers: { custom_id: 'u' }, attributes: { t: ['a', 2] } }, 'invalid_field', '[0].attributes.t[1]'],
  ['a nested object', { identifiers: { custom_id: 'u' }, attributes: { o: { a: 1 } } }, 'invalid_field', '[0].attributes.o'],
  ['a bad date', { identifiers: { custom_id: 'u' }, attributes: { 'date(d)': 'yesterday' } }, 'invalid_field', '[0].attributes.date(d)'],
  ['a relative URL', { identifiers: { custom_id: 'u' }, attributes: { 'url(u)': '/page' } }, 'invalid_field', '[0].attributes.url(u)'],
  ['U+0000 in a custom_id', { identifiers: { custom_id: 'u\u0000' } }, 'invalid_field', '[0].identifiers.custom_id'],
  ['an unpaired surrogate in a string', { identifiers: { custom_id: 'u' }, attributes: { s: 'a\ud800b' } }, 'invalid_field', '[0].attributes.s'],
  ['U+0000 in an array item', { identifiers: { custom_id: 'u' }, attributes: { t: ['ok', '\u0000'] } }, 'invalid_field', '[0].attributes.t[1]'],
  ['U+0000 in an event id', { identifiers: { custom_id: 'u' }, events: [{ id: 'e\u0000', name: 'x' }] }, 'invalid_field', '[0].events[0].id'],
  ['U+0000 deep in event attributes', { identifiers: { custom_id: 'u' }, events: [{ name: 'x', attributes: { a: [{ b: '\u0000' }] } }] },
    'invalid_field', '[0].events[0].attributes'],
  ['an unpaired surrogate in an event attribute key', { identifiers: { custom_id: 'u' }, events: [{ name: 'x', attributes: { '\udc00': 1 } }] },
    'invalid_field', '[0].events[0].attributes'],
  ['an attribute named twice', { identifiers: { custom_id: 'u' }, attributes: { d: 1, 'date(d)': '2020-01-01' } }, 'invalid_field', '[0].attributes.date(d)'],
  ['an unknown native field', { identifiers: { custom_id: 'u' }, attributes: { $birthday: 'x' } }, 'unknown_field', '[0].attributes.$birthday'],
  ['a bad email', { identifiers: { custom_id: 'u' }, attributes: { $email: 'not-an-email' } }, 'invalid_field', '[0].attributes.$email'],
  ['a phone not in E.164', { identifiers: { custom_id: 'u' }, attributes: { $phone: '0612345678' } }, 'invalid_field', '[0].attributes.$phone'],
  ['a bad subscription state', { identifiers: { custom_id: 'u' }, attributes: { $email_subscription: 'yes' } }, 'invalid_field', '[0].attributes.$email_subscription'],
  ['an unknown time zone', { identifiers: { custom_id: 'u' }, attributes: { $timezone: 'Mars/Olympus' } }, 'invalid_field', '[0].attributes.$timezone'],
  ['an event without name', { identifiers: { custom_id: 'u' }, events: [{ time: '2024-01-01T00:00:00Z' }] }, 'missing_field', '[0].events[0].name'],
  ['an event in the far future', { identifiers: { custom_id: 'u' }, events: [{ name: 'e', time: '2024-05-03T12:00:00Z' }] }, 'invalid_field', '[0].events[0].time'],
  ['an event id over 64 characters', { identifiers: { custom_id: 'u' }, events: [{ id: 'x'.repeat(65), name: 'e' }] }, 'invalid_field', '[0].events[0].id'],
  ['too many events', { identifiers: { custom_id: 'u' }, events: Array.from({ length: 51 }, () => ({ name: 'e' })) }, 'too_many_events', '[0].events'],
  ['large event attributes', { identifiers: { custom_id: 'u' }, events: [{ name: 'e', attributes: { x: 'y'.repeat(9000) } }] }, 'invalid_field', '[0].events[0].attributes'],
];

for (const [what, op, code, field] of refusals) {
  test(`${what} is refused as ${code} naming ${field}`, () => {
    const err = refusal(() => parseOperations([op], now));
    assert.equal(err.code, code);
    assert.equal(err.field, field);
  });
}

test('more than 200 operations is too_many_operations; none is refused too', () => {
  const op = { identifiers: { custom_id: 'u' } };
  assert.equal(parseOperations(Array.from({ length: 200 }, () => op), now).length, 200);
  assert.equal(refusal(() => parseOperations(Array.from({ length: 201 }, () => op), now)).code, 'too_many_operations');
  assert.equal(refusal(() => parseOperations([], now)).code, 'invalid_field');
});

test('SDK changes are refused naming the SDK body field', () => {
  assert.equal(refusal(() => parseSdkChanges({ set: { a: 1 }, unset: ['a'] })).field, 'unset[0]');
  assert.equal(refusal(() => parseSdkChanges({ add: { tags: [1] } })).field, 'add.tags');
  assert.equal(refusal(() => parseSdkChanges({ set: { $email: 'a@b.co' } })).field, 'set.$email');
  assert.deepEqual(parseSdkChanges({ set: { a: 1 }, unset: ['b'], add: { t: ['x'] }, remove: { u: ['y'] } }),
    { set: { a: 1 }, unset: ['b'], add: { t: ['x'] }, remove: { u: ['y'] } });
});

test('$add moves values to the end and keeps the newest 25; $remove empties an array away', () => {
  const start = { t: Array.from({ length: 25 }, (_, i) => 'v' + i), s: 'text' };
  const added = applyAttributeChanges(start, { set: {}, unset: [], add: { t: ['v0', 'new'], s: ['x'] }, remove: {} });
  assert.deepEqual(added.t, [...Array.from({ length: 24 }, (_, i) => 'v' + (i + 1)).slice(1), 'v0', 'new']);
  assert.deepEqual(added.s, ['x']);
  const removed = applyAttributeChanges({ t: ['a'], s: 'text' }, { set: {}, unset: [], add: {}, remove: { t: ['a'], s: ['text'], z: ['q'] } });
  assert.deepEqual(removed, { s: 'text' });
});

// Property: valid batches pass; one corrupted field in a valid batch is refused, naming that field.
const name = fc.stringMatching(/^[a-z0-9_]{1,30}$/);
/** __proto__ fits the pattern but is refused as an attribute name (it would set a prototype). */
const attributeName = name.filter((n) => n !== '__proto__');
const str = fc.string({ maxLength: limits.stringLength });
const value = fc.oneof(
  str, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
  fc.array(str, { maxLength: limits.arrayItems }),
  fc.record({ $add: fc.array(str, { maxLength: limits.arrayItems }) }),
  fc.record({ $remove: fc.array(str, { maxLength: limits.arrayItems }) }),
);
const event = fc.record({
  id: fc.string({ minLength: 1, maxLength: 64 }),
  name,
  time: fc.date({ min: new Date('2000-01-02T00:00:00Z'), max: now, noInvalidDate: true }).map((d) => d.toISOString()),
  attributes: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 })
    .filter((a) => JSON.stringify(a).length < 4000),
}, { requiredKeys: ['name'] });
const operation = fc.record({
  identifiers: fc.record({ custom_id: fc.string({ minLength: 1, maxLength: 512 }) }),
  attributes: fc.dictionary(attributeName, value, { maxKeys: limits.attributesPerOperation }),
  events: fc.array(event, { maxLength: 5 }),
}, { requiredKeys: ['identifiers'] });

const corruptions: [string, unknown, string][] = [
  ['BadName', 1, 'attributes.BadName'],
  ['long', 'x'.repeat(limits.stringLength + 1), 'attributes.long'],
  ['$email', 'nope', 'attributes.$email'],
  ['$phone', '12', 'attributes.$phone'],
  ['date(when)', 'soon', 'attributes.date(when)'],
  ['obj', { a: 1 }, 'attributes.obj'],
  // An own key __proto__, as JSON.parse makes it from a bulk line.
  ['__proto__', 'x', 'attributes.__proto__'],
  ['date(__proto__)', '1990-04-01', 'attributes.date(__proto__)'],
];

test('property: no valid batch is refused, and one bad field in it is refused by name', () => {
  fc.assert(
    fc.property(fc.array(operation, { minLength: 1, maxLength: 20 }), fc.nat(), fc.nat(), (batch, at, which) => {
      assert.equal(parseOperations(batch, now).length, batch.length);
      const i = at % batch.length;
      const [key, bad, field] = corruptions[which % corruptions.length]!;
      const broken: Record<string, unknown>[] = structuredClone(batch);
      const attributes = { ...(batch[i]!.attributes ?? {}), [key]: bad };
      if (Object.keys(attributes).length > limits.attributesPerOperation) return;
      broken[i] = { ...broken[i]!, attributes };
      const err = refusal(() => parseOperations(broken, now));
      assert.equal(err.field, `[${i}].${field}`);
    }),
    { numRuns: 300 },
  );
});
