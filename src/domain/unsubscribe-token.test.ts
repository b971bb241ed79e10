import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { signUnsubscribeToken, verifyUnsubscribeToken } from './unsubscribe-token.js';

const secret = 'a-test-secret-of-32-bytes-length';

test('a token verifies back to its project and lower-cased address', () => {
  const projectId = randomUUID();
  const token = signUnsubscribeToken(secret, projectId, 'Ann.Example@Mail.Example.COM');
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(verifyUnsubscribeToken(secret, token), { projectId, address: 'ann.example@mail.example.com' });
});

test('another secret, a swapped tag and garbage are refused', () => {
  const a = signUnsubscribeToken(secret, randomUUID(), 'a@example.com');
  const b = signUnsubscribeToken(secret, randomUUID(), 'b@example.com');
  assert.equal(verifyUnsubscribeToken('another-secret-of-enough-length!', a), undefined);
  assert.equal(verifyUnsubscribeToken(secret, `${a.split('.')[0]}.${b.split('.')[1]}`), undefined);
  for (const bad of ['', '.', 'abc', 'a.b.c', `${a}.`, `${a} `, a.replace('.', '')]) assert.equal(verifyUnsubscribeToken(secret, bad), undefined, bad);
});

test('a short secret is a bug, not a token', () => {
  assert.throws(() => signUnsubscribeToken('short', randomUUID(), 'a@example.com'), /at least 16 bytes/);
  assert.throws(() => verifyUnsubscribeToken('short', 'x.y'), /at least 16 bytes/);
});

test('property: every (project, address) round-trips, and every single-character edit is refused', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
  fc.assert(fc.property(
    fc.uuid(), fc.emailAddress(), fc.nat(), fc.nat(alphabet.length - 1),
    (projectId, address, at, replacement) => {
      const token = signUnsubscribeToken(secret, projectId, address);
      assert.deepEqual(verifyUnsubscribeToken(secret, token), { projectId: projectId.toLowerCase(), address: address.toLowerCase() });
      const i = at % token.length;
      const edited = token.slice(0, i) + alphabet[replacement] + token.slice(i + 1);
      if (edited !== token) assert.equal(verifyUnsubscribeToken(secret, edited), undefined, `${token} → ${edited}`);
    },
  ), { numRuns: 500 });
});
