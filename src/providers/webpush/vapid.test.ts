import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import {
  InvalidVapidCredentials, audienceOf, createVapidTokens, generateVapidKeys, vapidRenewBeforeMs, vapidTokenLifetimeMs,
  type VapidCredentials,
} from './vapid.js';

const creds = (): VapidCredentials => ({ ...generateVapidKeys(), subject: 'mailto:ops@example.com' });

/** The public key `k` as a KeyObject, the way a push service reads it (RFC 8292 §3.2). */
const keyOf = (k: string) => {
  const p = Buffer.from(k, 'base64url');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: p.subarray(1, 33).toString('base64url'), y: p.subarray(33).toString('base64url') },
    format: 'jwk',
  });
};

test('generated keys are a 65-byte uncompressed point and a PKCS#8 PEM', () => {
  const k = generateVapidKeys();
  const p = Buffer.from(k.publicKey, 'base64url');
  assert.equal(p.length, 65);
  assert.equal(p[0], 0x04);
  assert.match(k.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
});

test('the token is an ES256 JWT for the origin, expiring in 12 hours, with the contact, verifiable with k', async () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  const c = creds();
  const t = await createVapidTokens(() => now).get(c, audienceOf('https://push.example.net:8443/push/abc?x=1'));
  assert.equal(t.authorization, `vapid t=${t.jwt}, k=${c.publicKey}`);
  assert.deepEqual(decodeProtectedHeader(t.jwt), { typ: 'JWT', alg: 'ES256' });
  const { payload } = await jwtVerify(t.jwt, keyOf(c.publicKey), { algorithms: ['ES256'], currentDate: new Date(now) });
  assert.deepEqual(payload, { aud: 'https://push.example.net:8443', exp: (now + vapidTokenLifetimeMs) / 1000, sub: c.subject });
  assert.ok(vapidTokenLifetimeMs <= 24 * 3_600_000, 'RFC 8292 §2: at most 24 hours');
});

test('a token is reused per key and origin, and replaced an hour before it expires', async () => {
  let now = Date.now();
  const tokens = createVapidTokens(() => now);
  const c = creds();
  const origin = 'https://push.example.net';
  const [a, b] = await Promise.all([tokens.get(c, origin), tokens.get(c, origin)]);
  assert.equal(a, b, 'concurrent callers share one mint');
  assert.notEqual((await tokens.get(c, 'https://other.example.net')).jwt, a.jwt, 'another origin, another aud');
  assert.notEqual((await tokens.get(creds(), origin)).jwt, a.jwt, 'another key, another token');

  now = a.expiresAtMs - vapidRenewBeforeMs - 1;
  assert.equal((await tokens.get(c, origin)).jwt, a.jwt, 'still an hour and more to live');
  now += 1;
  const renewed = await tokens.get(c, origin);
  assert.notEqual(renewed.jwt, a.jwt);
  assert.ok(renewed.expiresAtMs > a.expiresAtMs);
});

test('unusable credentials are refused before anything is sent', async () => {
  const tokens = createVapidTokens();
  const c = creds();
  const other = generateVapidKeys();
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  for (const bad of [
    { ...c, publicKey: other.publicKey },
    { ...c, privateKeyPem: 'not a key' },
    { ...c, privateKeyPem: rsa },
    { ...c, subject: 'ops@example.com' },
  ]) {
    await assert.rejects(tokens.get(bad, 'https://push.example.net'), InvalidVapidCredentials);
  }
  // A SEC1 PEM of the same key is as good as PKCS#8.
  const sec1 = (await import('node:crypto')).createPrivateKey(c.privateKeyPem).export({ type: 'sec1', format: 'pem' }).toString();
  assert.ok((await tokens.get({ ...c, privateKeyPem: sec1 }, 'https://push.example.net')).jwt);
});
