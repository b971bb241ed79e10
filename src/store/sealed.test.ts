import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { createKeyring, currentKeyVersion, SealedValueError } from './sealed.js';

const context = 'provider_credentials/3f1c2a9e-0000-4000-8000-000000000001/apns';

test('a sealed value opens to its plaintext, in its own context, and carries the key version first', () => {
  const k = createKeyring(randomBytes(32));
  const sealed = k.seal('{"auth_token":"s3cret"}', context);
  assert.equal(sealed[0], currentKeyVersion);
  assert.ok(!sealed.includes(Buffer.from('s3cret')), 'the plaintext is not visible in the sealed bytes');
  assert.equal(k.open(sealed, context).toString(), '{"auth_token":"s3cret"}');
});

test('sealing twice gives different bytes: a fresh nonce each time', () => {
  const k = createKeyring(randomBytes(32));
  const a = k.seal('same', context);
  const b = k.seal('same', context);
  assert.notDeepEqual(a, b);
  assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
});

test('a flipped bit anywhere (version, nonce, ciphertext, tag) is refused', () => {
  const k = createKeyring(randomBytes(32));
  const sealed = k.seal('private key material', context);
  for (let i = 0; i < sealed.length; i++) {
    const bad = Buffer.from(sealed);
    bad[i] = bad[i]! ^ 0x01;
    assert.throws(() => k.open(bad, context), SealedValueError, `byte ${i} flipped`);
  }
  assert.throws(() => k.open(sealed.subarray(0, 20), context), SealedValueError, 'truncated');
});

test('a value moved to another row (other context) does not open', () => {
  const k = createKeyring(randomBytes(32));
  const sealed = k.seal('secret', context);
  assert.throws(() => k.open(sealed, context.replace('/apns', '/fcm')), SealedValueError);
  assert.throws(() => k.open(sealed, context.replace('0001', '0002')), SealedValueError);
});

test('another master key does not open it', () => {
  const sealed = createKeyring(randomBytes(32)).seal('secret', context);
  assert.throws(() => createKeyring(randomBytes(32)).open(sealed, context), SealedValueError);
});

test('check values and fingerprints depend on the key, and are stable for one key', () => {
  const key = randomBytes(32);
  const a = createKeyring(key);
  const b = createKeyring(Buffer.from(key));
  const other = createKeyring(randomBytes(32));
  assert.equal(a.checkValue, b.checkValue);
  assert.notEqual(a.checkValue, other.checkValue);
  assert.equal(a.fingerprint('hunter2'), b.fingerprint('hunter2'));
  assert.notEqual(a.fingerprint('hunter2'), other.fingerprint('hunter2'));
  assert.notEqual(a.fingerprint('hunter2'), a.fingerprint('hunter3'));
  assert.ok(!a.fingerprint('hunter2').includes('hunter2'));
});

test('a master key of the wrong size is refused', () => {
  assert.throws(() => createKeyring(randomBytes(16)), RangeError);
});

test('a keyring with the previous key opens values of either key and seals under the current one', () => {
  const oldKey = randomBytes(32);
  const old = createKeyring(oldKey);
  const ring = createKeyring(randomBytes(32), { previous: [oldKey] });
  const fromOld = old.seal('before', context);
  assert.equal(ring.open(fromOld, context).toString(), 'before');
  const fresh = ring.seal('after', context);
  assert.deepEqual(fresh.subarray(1, 9), ring.keyId, 'the key id follows the version byte');
  assert.throws(() => old.open(fresh, context), /sealed under master key [0-9a-f]{16}, which this process does not hold/);
  assert.deepEqual(ring.checkValues, [ring.checkValue, old.checkValue]);
});

test('a value sealed before key ids (version 1) still opens', () => {
  const masterKey = randomBytes(32);
  // Version 1 as written before rotation existed: version ‖ nonce ‖ ciphertext ‖ tag, AAD version ‖ context.
  const sealingKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'herald sealing v1', 32));
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey, nonce);
  cipher.setAAD(Buffer.concat([Buffer.of(1), Buffer.from(context)]));
  const v1 = Buffer.concat([Buffer.of(1), nonce, cipher.update('legacy'), cipher.final(), cipher.getAuthTag()]);
  assert.equal(createKeyring(masterKey).open(v1, context).toString(), 'legacy');
  assert.equal(createKeyring(randomBytes(32), { previous: [masterKey] }).open(v1, context).toString(), 'legacy');
  assert.throws(() => createKeyring(randomBytes(32)).open(v1, context), SealedValueError);
});
