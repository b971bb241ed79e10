import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pushFor, type PushMessage } from './push.js';

const push: PushMessage = {
  title: 'Hello', body: 'Everyone', data: { a: 1, b: 2 }, badge: 3,
  ios: { title: 'Hello iPhone', data: { b: 20, c: 30 } },
  android: { body: 'Android people' },
};

test('a platform gets its override over the common fields, data merged key by key', () => {
  assert.deepEqual(pushFor(push, 'ios'), { title: 'Hello iPhone', body: 'Everyone', data: { a: 1, b: 20, c: 30 }, badge: 3 });
  assert.deepEqual(pushFor(push, 'android'), { title: 'Hello', body: 'Android people', data: { a: 1, b: 2 }, badge: 3 });
});

test('a platform without an override gets the common fields, and never another platform\'s override', () => {
  assert.deepEqual(pushFor(push, 'web'), { title: 'Hello', body: 'Everyone', data: { a: 1, b: 2 }, badge: 3 });
});
