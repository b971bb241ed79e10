import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { InputError, parseOperations } from '../domain/profile-operations.js';
import { ProfileOperations } from './profile-operation-schema.js';
import { validatorCompiler } from './validation.js';

// The documented schema and the parser that validates (domain/profile-operations.ts) agree.
const ajv = new Ajv({ strict: false });
const validate = ajv.compile(ProfileOperations);
const now = new Date('2024-06-01T00:00:00Z');
const parses = (body: unknown) => {
  try {
    parseOperations(body, now);
    return true;
  } catch (err) {
    if (err instanceof InputError) return false;
    throw err;
  }
};

const valid: unknown[] = [
  [{ identifiers: { custom_id: 'u1' } }],
  [{
    identifiers: { custom_id: 'u1' },
    attributes: {
      plan: 'pro', age: 31, vip: true, 'date(birthdate)': '1990-04-01', 'url(site)': 'https://example.com', tags: ['a', 'b'],
      hobbies: { $add: ['chess'] }, old: null, $email: 'A@Example.com', $email_subscription: 'subscribed', $phone: '+33612345678',
      $language: 'fr', $region: 'FR', $timezone: 'Europe/Paris', $sms_subscription: null,
    },
    events: [{ id: 'e1', name: 'purchase', time: '2024-05-01T10:00:00Z', attributes: { sku: 'x', n: [1, { a: 2 }] } }, { name: 'open' }],
  }],
];
const invalid: unknown[] = [
  [],
  {},
  [{}],
  [{ identifiers: {} }],
  [{ identifiers: { custom_id: '' } }],
  [{ identifiers: { custom_id: 'u', email: 'x' } }],
  [{ identifiers: { custom_id: 'u' }, extra: 1 }],
  [{ identifiers: { custom_id: 'u' }, attributes: { 'Bad-Name': 1 } }],
  [{ identifiers: { custom_id: 'u' }, attributes: { $unknown: 1 } }],
  [{ identifiers: { custom_id: 'u' }, attributes: { x: { $add: ['a'], $remove: ['b'] } } }],
  [{ identifiers: { custom_id: 'u' }, attributes: { x: 'y'.repeat(301) } }],
  [{ identifiers: { custom_id: 'u' }, attributes: { x: Array.from({ length: 26 }, (_, i) => String(i)) } }],
  [{ identifiers: { custom_id: 'u' }, attributes: { $email_subscription: 'maybe' } }],
  [{ identifiers: { custom_id: 'u' }, events: [{ time: '2024-05-01T10:00:00Z' }] }],
  [{ identifiers: { custom_id: 'u' }, events: [{ name: 'x', other: 1 }] }],
  [{ identifiers: { custom_id: 'u' }, events: Array.from({ length: 51 }, () => ({ name: 'x' })) }],
  Array.from({ length: 201 }, (_, i) => ({ identifiers: { custom_id: `u${i}` } })),
];

test('what the parser accepts, the documented schema accepts', () => {
  for (const body of valid) {
    assert.ok(parses(body), JSON.stringify(body));
    assert.ok(validate(body), `${JSON.stringify(body)}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('what the documented schema refuses, the parser refuses too', () => {
  for (const body of invalid) {
    assert.equal(validate(body), false, JSON.stringify(body).slice(0, 200));
    assert.equal(parses(body), false, JSON.stringify(body).slice(0, 200));
  }
});

test('the schema is marked for the parser, so the API checks only its top-level type with Ajv', () => {
  assert.equal((ProfileOperations as unknown as Record<string, unknown>)['x-validated-by'], 'parser');
  const compile = validatorCompiler();
  const check = compile({ schema: ProfileOperations, httpPart: 'body', method: 'POST', url: '/v1/profiles/update' }) as (v: unknown) => boolean;
  assert.equal(check([{ identifiers: {} }, 'not an operation']), true, 'the parser names what is wrong inside');
  assert.equal(check({ identifiers: { custom_id: 'u' } }), false, 'a body that is no array is refused as before');
});
