import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { signUnsubscribeToken, unsubscribeTokenValidityMs, verifyUnsubscribeToken } from './unsubscribe-token.js';

const secret = 'a-test-secret-of-32-bytes-length';

test('a token verifies back to its project and lower-cased address', () => {
  const projectId = randomUUID();
  const token = signUnsubscribeToken(secret, projectId, 'Ann.Example@Mail.Example.COM', new Date());
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(verifyUnsubscribeToken(secret, token, new Date()), { ok: true, subject: { projectId, address: 'ann.example@mail.example.com' } });
});

test('another secret, a swapped tag and garbage are refused', () => {
  const a = signUnsubscribeToken(secret, randomUUID(), 'a@example.com', new Date());
  const b = signUnsubscribeToken(secret, randomUUID(), 'b@example.com', new Date());
  const invalid = { ok: false, reason: 'invalid' };
  assert.deepEqual(verifyUnsubscribeToken('another-secret-of-enough-length!', a, new Date()), invalid);
  assert.deepEqual(verifyUnsubscribeToken(secret, `${a.split('.')[0]}.${b.split('.')[1]}`, new Date()), invalid);
  for (const bad of ['', '.', 'abc', 'a.b.c', `${a}.`, `${a} `, a.replace('.', '')]) assert.deepEqual(verifyUnsubscribeToken(secret, bad, new Date()), invalid, bad);
});

test('a short secret is a bug, not a token', () => {
  assert.throws(() => signUnsubscribeToken('short', randomUUID(), 'a@example.com', new Date()), /at least 16 bytes/);
  assert.throws(() => verifyUnsubscribeToken('short', 'x.y', new Date()), /at least 16 bytes/);
});

test('property: every (project, address) round-trips, and every single-character edit is refused', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
  fc.assert(fc.property(
    fc.uuid(), fc.emailAddress(), fc.nat(), fc.nat(alphabet.length - 1),
    (projectId, address, at, replacement) => {
      const token = signUnsubscribeToken(secret, projectId, address, new Date());
      assert.deepEqual(verifyUnsubscribeToken(secret, token, new Date()), { ok: true, subject: { projectId: projectId.toLowerCase(), address: address.toLowerCase() } });
      const i = at % token.length;
      const edited = token.slice(0, i) + alphabet[replacement] + token.slice(i + 1);
      if (edited !== token) assert.deepEqual(verifyUnsubscribeToken(secret, edited, new Date()), { ok: false, reason: 'invalid' }, `${token} → ${edited}`);
    },
  ), { numRuns: 500 });
});

test('a token is valid for a year from its issue time, then expired; only a genuine token is told expired', () => {
  const projectId = randomUUID();
  const issued = new Date('2025-03-01T12:00:00Z');
  const token = signUnsubscribeToken(secret, projectId, 'a@example.com', issued);
  const at = (ms: number) => verifyUnsubscribeToken(secret, token, new Date(issued.getTime() + ms));
  assert.equal(at(0).ok, true);
  assert.equal(at(unsubscribeTokenValidityMs).ok, true, 'valid through its last second');
  assert.deepEqual(at(unsubscribeTokenValidityMs + 1000), { ok: false, reason: 'expired' });
  assert.deepEqual(at(5 * unsubscribeTokenValidityMs), { ok: false, reason: 'expired' });
  assert.equal(at(-3600 * 1000).ok, true, 'a clock a little behind the signer\'s still accepts it');
  // Made under another secret, an old token is not ours: invalid, not expired.
  const foreign = signUnsubscribeToken('another-secret-of-enough-length!', projectId, 'a@example.com', issued);
  assert.deepEqual(verifyUnsubscribeToken(secret, foreign, new Date(issued.getTime() + 2 * unsubscribeTokenValidityMs)), { ok: false, reason: 'invalid' });
});

test('the issue time is signed: moving it forward breaks the tag', () => {
  const token = signUnsubscribeToken(secret, randomUUID(), 'a@example.com', new Date('2020-01-01T00:00:00Z'));
  const [p, t] = token.split('.') as [string, string];
  const payload = Buffer.from(p, 'base64url');
  payload.writeUInt32BE(Math.floor(Date.now() / 1000), 1);
  assert.deepEqual(verifyUnsubscribeToken(secret, `${payload.toString('base64url')}.${t}`, new Date()), { ok: false, reason: 'invalid' });
});
