import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
