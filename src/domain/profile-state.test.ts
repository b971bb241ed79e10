import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOperations } from './profile-operations.js';
import { foldOperations, type ProfileState } from './profile-state.js';

const now = new Date('2024-05-01T12:00:00Z');
const ops = (body: unknown[]) => parseOperations(body, now);

test('operations fold in order over the profile as read; a new profile starts empty', () => {
  const read: ProfileState = {
    native: { email: 'a@example.com', phone: null, language: 'fr', region: null, timezone: null, email_subscription: 'subscribed', sms_subscription: null },
    attributes: { plan: 'free', tags: ['a', 'b'] },
  };
  const next = foldOperations(new Map([['old', read]]), ops([
    { identifiers: { custom_id: 'old' }, attributes: { plan: 'pro', tags: { $add: ['c'] }, $language: null } },
    { identifiers: { custom_id: 'new' }, attributes: { x: 1, $phone: '+33612345678' } },
    { identifiers: { custom_id: 'old' }, attributes: { tags: { $remove: ['a'] }, plan: null } },
  ]));
  assert.deepEqual(next, [
    {
      customId: 'old', existed: true, changed: true, attributes: { tags: ['b', 'c'] },
      native: { ...read.native, language: null },
    },
    {
      customId: 'new', existed: false, changed: true, attributes: { x: 1 },
      native: { email: null, phone: '+33612345678', language: null, region: null, timezone: null, email_subscription: null, sms_subscription: null },
    },
  ]);
  assert.deepEqual(read.attributes, { plan: 'free', tags: ['a', 'b'] }, 'the state read is not changed in place');
  assert.equal(read.native.language, 'fr');
});

test('an operation carrying only events changes nothing, but still names a profile to create', () => {
  const next = foldOperations(new Map(), ops([{ identifiers: { custom_id: 'u' }, events: [{ name: 'open' }] }]));
  assert.equal(next.length, 1);
  assert.deepEqual([next[0]!.existed, next[0]!.changed, next[0]!.attributes], [false, false, {}]);
  const existing = foldOperations(new Map([['u', next[0]!]]), ops([{ identifiers: { custom_id: 'u' }, events: [{ name: 'open' }] }]));
  assert.deepEqual([existing[0]!.existed, existing[0]!.changed], [true, false]);
});
