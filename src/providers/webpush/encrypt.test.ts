/**
 * RFC 8291 encryption: the Appendix A vector byte for byte, and interoperability both ways with
 * http_ece, an independent implementation of RFC 8188/8291.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createCipheriv, createECDH, randomBytes, randomInt } from 'node:crypto';
import {
  DecryptionError, InvalidSubscriptionKey, decryptPayload, encryptPayload, maxBodyBytes, maxPlaintextBytes,
} from './encrypt.js';

interface HttpEce {
  encrypt(buf: Buffer, params: Record<string, unknown>): Buffer;
  decrypt(buf: Buffer, params: Record<string, unknown>): Buffer;
}
const ece = createRequire(import.meta.url)('http_ece') as HttpEce;

// RFC 8291 Appendix A.
const vector = {
  plaintext: 'V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  uaPublic: 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  authSecret: 'BTBZMqHH6r4Tts7J_aSIgg',
  cek: 'oIhVW04MRdy2XN9CiKLxTg',
  nonce: '4h_95klXJ5E_qnoN',
  asPublic: 'BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8',
  body: 'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};
const b64 = (s: string) => Buffer.from(s, 'base64url');

const vectorSubscriber = () => {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(b64(vector.uaPrivate));
  return { ecdh, authSecret: b64(vector.authSecret) };
};

/** A made-up subscription: what a browser would create, with its private half kept for decrypting. */
function subscriber() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return { ecdh, authSecret, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') } };
}

test('the RFC 8291 Appendix A vector encrypts byte for byte', () => {
  const body = encryptPayload(
    { p256dh: vector.uaPublic, auth: vector.authSecret },
    b64(vector.plaintext),
    { salt: b64(vector.salt), asPrivateKey: b64(vector.asPrivate) },
  );
  assert.equal(body.length, 144);
  assert.equal(body.subarray(0, 21).toString('hex'), '0c6bfaadad67958803092d454676f397' + '00001000' + '41');
  assert.equal(body.subarray(21, 86).toString('base64url'), vector.asPublic);
  assert.equal(body.toString('base64url'), vector.body);
});

test('the RFC 8291 Appendix A body decrypts to its plaintext', () => {
  const plain = decryptPayload(b64(vector.body), vectorSubscriber());
  assert.equal(plain.toString('utf8'), 'When I grow up, I want to be a watermelon');
});

test('random messages encrypted here decrypt with http_ece, and http_ece\'s decrypt here', () => {
  for (let i = 0; i < 50; i++) {
    const s = subscriber();
    const plaintext = randomBytes(randomInt(0, maxPlaintextBytes + 1));
    const body = encryptPayload(s.keys, plaintext);
    assert.ok(body.length <= maxBodyBytes);
    const theirs = ece.decrypt(body, { version: 'aes128gcm', privateKey: s.ecdh, authSecret: s.keys.auth });
    assert.deepEqual(theirs, plaintext);
    assert.deepEqual(decryptPayload(body, s), plaintext);

    // The other way: http_ece as the sender, with its own ephemeral key as keyid.
    const sender = createECDH('prime256v1');
    sender.generateKeys();
    const fromThem = ece.encrypt(plaintext, {
      version: 'aes128gcm', privateKey: sender, dh: s.keys.p256dh, authSecret: s.keys.auth, rs: 4096,
    });
    assert.deepEqual(decryptPayload(fromThem, s), plaintext);
  }
});

test('each message gets its own salt and ephemeral key (RFC 8291 §3.1)', () => {
  const s = subscriber();
  const a = encryptPayload(s.keys, 'same');
  const b = encryptPayload(s.keys, 'same');
  assert.notDeepEqual(a.subarray(0, 16), b.subarray(0, 16));
  assert.notDeepEqual(a.subarray(21, 86), b.subarray(21, 86));
});

test('3993 bytes of plaintext make a 4096-byte body; one byte more is refused', () => {
  const s = subscriber();
  assert.equal(maxPlaintextBytes, 3993);
  assert.equal(encryptPayload(s.keys, Buffer.alloc(maxPlaintextBytes, 7)).length, 4096);
  assert.throws(() => encryptPayload(s.keys, Buffer.alloc(maxPlaintextBytes + 1)), RangeError);
  assert.throws(() => encryptPayload(s.keys, 'é'.repeat(2000)), RangeError, 'the limit counts UTF-8 bytes');
});

test('subscription keys that cannot be used are refused', () => {
  const s = subscriber();
  const offCurve = s.ecdh.getPublicKey();
  offCurve[64] = offCurve[64]! ^ 1;
  for (const keys of [
    { ...s.keys, p256dh: s.ecdh.getPublicKey('base64url', 'compressed') },
    { ...s.keys, p256dh: offCurve.toString('base64url') },
    { ...s.keys, auth: randomBytes(12).toString('base64url') },
  ]) {
    assert.throws(() => encryptPayload(keys, 'hi'), InvalidSubscriptionKey, JSON.stringify(keys));
  }
});

test('decrypting refuses another delimiter than 0x02, several records, a wrong key and a short keyid', () => {
  const sub = vectorSubscriber();
  const header = b64(vector.body).subarray(0, 86);
  const seal = (padded: Buffer) => {
    const c = createCipheriv('aes-128-gcm', b64(vector.cek), b64(vector.nonce));
    return Buffer.concat([header, c.update(padded), c.final(), c.getAuthTag()]);
  };
  const text = Buffer.from('watermelon');
  assert.deepEqual(decryptPayload(seal(Buffer.concat([text, Buffer.of(2, 0, 0)])), sub), text, 'zero padding after 0x02');
  assert.throws(() => decryptPayload(seal(Buffer.concat([text, Buffer.of(1)])), sub), /delimiter 0x1/);
  assert.throws(() => decryptPayload(seal(Buffer.alloc(4)), sub), /no padding delimiter/);

  const s = subscriber();
  const sender = createECDH('prime256v1');
  sender.generateKeys();
  const multi = ece.encrypt(randomBytes(100), { version: 'aes128gcm', privateKey: sender, dh: s.keys.p256dh, authSecret: s.keys.auth, rs: 50 });
  assert.throws(() => decryptPayload(multi, s), /more than one record/);

  assert.throws(() => decryptPayload(encryptPayload(s.keys, 'hi'), subscriber()), DecryptionError);
  const shortId = Buffer.concat([b64(vector.body).subarray(0, 20), Buffer.of(3), Buffer.alloc(40)]);
  assert.throws(() => decryptPayload(shortId, sub), /idlen is 3/);
});
