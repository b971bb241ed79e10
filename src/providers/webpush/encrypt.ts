/**
 * Web Push message encryption (RFC 8291) in the aes128gcm content coding (RFC 8188), both ways:
 * `encryptPayload` for the sender, `decryptPayload` for the receiving side (tests, and anyone who
 * holds a subscription's private key). Layout and derivation: RFC 8291 §3–§4, RFC 8188 §2.
 *
 * Hand-written on node:crypto rather than taken from the `web-push` package: it is some sixty lines,
 * and the library hides the pieces (salt, ephemeral key, record size, padding delimiter) that the
 * tests must pin to the RFC 8291 Appendix A vector and that the simulator must check one by one.
 * `http_ece`, an independent implementation, is used by the tests only, to prove interoperability.
 */
import { createCipheriv, createDecipheriv, createECDH, createHmac, randomBytes, type ECDH } from 'node:crypto';

/** The subscription's keys as a browser hands them out (PushSubscription.toJSON().keys), base64url. */
export interface SubscriptionKeys {
  /** The user agent's P-256 public key, 65-byte uncompressed point (RFC 8291 §3.1). */
  p256dh: string;
  /** The 16-byte authentication secret (RFC 8291 §3.2). */
  auth: string;
}

/** Fixed inputs for tests (the RFC 8291 Appendix A vector); random in production. */
export interface EncryptionInputs {
  /** 16 bytes (RFC 8188 §2.1). */
  salt?: Uint8Array;
  /** The application server's ephemeral private key, 32 raw bytes. A fresh one per message otherwise (RFC 8291 §3.1). */
  asPrivateKey?: Uint8Array;
}

/** The record size written in the header: 4096, as every implementation writes (RFC 8291 Appendix A). */
export const recordSize = 4096;
/** salt(16) ‖ rs(4) ‖ idlen(1) ‖ keyid(65) (RFC 8188 §2.1 with RFC 8291 §4's keyid). */
export const headerBytes = 86;
/** The AES-GCM tag closing the record (RFC 8188 §2). */
export const tagBytes = 16;
/**
 * "Push services MUST NOT return a 413 … to an entity body that is 4096 bytes or less" (RFC 8030
 * §7.2), and RFC 8291 §4 asks no push service to take more: Herald never sends a larger body.
 */
export const maxBodyBytes = 4096;
/** 4096 − 86 header − 1 delimiter − 16 tag = 3993 bytes of plaintext (RFC 8291 §4). */
export const maxPlaintextBytes = maxBodyBytes - headerBytes - 1 - tagBytes;

/** The padding delimiter of the last (here: only) record; any other value means discard (RFC 8188 §2, RFC 8291 §4). */
const lastRecordDelimiter = 0x02;
const keyInfoLabel = Buffer.from('WebPush: info\0', 'latin1');
const cekInfo = Buffer.from('Content-Encoding: aes128gcm\0\x01', 'latin1');
const nonceInfo = Buffer.from('Content-Encoding: nonce\0\x01', 'latin1');

/** A subscription key that cannot be used: the subscription is broken for good. */
export class InvalidSubscriptionKey extends Error {}

/** A body that does not decrypt or is not framed as RFC 8291 requires. */
export class DecryptionError extends Error {}

const hmac = (key: Uint8Array, ...data: Uint8Array[]): Buffer => {
  const h = createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
};

/**
 * The content-encryption key and nonce (RFC 8291 §3.3–3.4, RFC 8188 §2.2–2.3). HKDF with one
 * block of output each, so every Expand is a single HMAC over `info ‖ 0x01`.
 */
function deriveKeys(ecdhSecret: Buffer, authSecret: Uint8Array, uaPublic: Uint8Array, asPublic: Uint8Array, salt: Uint8Array) {
  const prkKey = hmac(authSecret, ecdhSecret);
  const ikm = hmac(prkKey, keyInfoLabel, uaPublic, asPublic, Buffer.of(1));
  const prk = hmac(salt, ikm);
  return { cek: hmac(prk, cekInfo).subarray(0, 16), nonce: hmac(prk, nonceInfo).subarray(0, 12) };
}

/** The user agent's public key: an uncompressed P-256 point (RFC 8291 §3.1). */
export function decodeP256dh(p256dh: string): Buffer {
  const key = Buffer.from(p256dh, 'base64url');
  if (key.length !== 65 || key[0] !== 0x04) {
    throw new InvalidSubscriptionKey('p256dh is not a 65-byte uncompressed P-256 point');
  }
  return key;
}

/** The authentication secret: 16 bytes (RFC 8291 §3.2). */
export function decodeAuthSecret(auth: string): Buffer {
  const secret = Buffer.from(auth, 'base64url');
  if (secret.length !== 16) throw new InvalidSubscriptionKey('auth is not a 16-byte secret');
  return secret;
}

/**
 * Encrypts `plaintext` for one subscription into one aes128gcm body: the 86-byte header, then a
 * single record of `plaintext ‖ 0x02` under AES-128-GCM (RFC 8291 §4 forbids more records).
 * Throws InvalidSubscriptionKey for keys no message can be encrypted to, RangeError past
 * maxPlaintextBytes.
 */
export function encryptPayload(keys: SubscriptionKeys, plaintext: string | Uint8Array, inputs: EncryptionInputs = {}): Buffer {
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  if (data.length > maxPlaintextBytes) {
    throw new RangeError(`the payload is ${data.length} bytes; Web Push carries at most ${maxPlaintextBytes}`);
  }
  const uaPublic = decodeP256dh(keys.p256dh);
  const authSecret = decodeAuthSecret(keys.auth);
  const salt = inputs.salt ?? randomBytes(16);
  if (salt.length !== 16) throw new RangeError('the salt must be 16 bytes');

  const as = createECDH('prime256v1');
  if (inputs.asPrivateKey) as.setPrivateKey(inputs.asPrivateKey);
  else as.generateKeys();
  const asPublic = as.getPublicKey();
  let ecdhSecret: Buffer;
  try {
    ecdhSecret = as.computeSecret(uaPublic);
  } catch {
    throw new InvalidSubscriptionKey('p256dh is not a point on P-256');
  }
  const { cek, nonce } = deriveKeys(ecdhSecret, authSecret, uaPublic, asPublic, salt);

  // One allocation for the whole body; the cipher writes into it after the header.
  const body = Buffer.allocUnsafe(headerBytes + data.length + 1 + tagBytes);
  body.set(salt, 0);
  body.writeUInt32BE(recordSize, 16);
  body[20] = asPublic.length; // idlen = 65 (RFC 8291 §4)
  body.set(asPublic, 21);
  // The nonce is XORed with the record sequence number (RFC 8188 §2.3), which is 0 for the only record.
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  let at = headerBytes;
  at += cipher.update(data).copy(body, at);
  at += cipher.update(Buffer.of(lastRecordDelimiter)).copy(body, at);
  at += cipher.final().copy(body, at);
  cipher.getAuthTag().copy(body, at);
  return body;
}

/** The receiving side of a subscription: its key pair and auth secret. */
export interface SubscriberKeys {
  /** The user agent's ECDH key pair (private key set). */
  ecdh: ECDH;
  authSecret: Uint8Array;
}

/** The parts of an aes128gcm header (RFC 8188 §2.1). */
export interface Aes128gcmHeader {
  salt: Buffer;
  rs: number;
  keyid: Buffer;
  /** Where the records start. */
  headerLength: number;
}

/** Reads the header; throws DecryptionError when the body is too short to hold it. */
export function readHeader(body: Buffer): Aes128gcmHeader {
  if (body.length < 21) throw new DecryptionError('the body is shorter than an aes128gcm header');
  const idlen = body[20]!;
  if (body.length < 21 + idlen) throw new DecryptionError('the body is shorter than its keyid');
  return { salt: body.subarray(0, 16), rs: body.readUInt32BE(16), keyid: body.subarray(21, 21 + idlen), headerLength: 21 + idlen };
}

/**
 * Decrypts a body as a user agent does (RFC 8291 §4): one record, keyid the sender's 65-byte
 * point, padding ended by 0x02. Throws DecryptionError for anything else.
 */
export function decryptPayload(body: Buffer, keys: SubscriberKeys): Buffer {
  const h = readHeader(body);
  if (h.keyid.length !== 65) throw new DecryptionError(`idlen is ${h.keyid.length}; RFC 8291 requires 65`);
  if (h.rs < 18) throw new DecryptionError(`rs ${h.rs} is below the minimum of 18 (RFC 8188 §2.1)`);
  const record = body.subarray(h.headerLength);
  if (record.length <= tagBytes) throw new DecryptionError('the record is too short to hold a delimiter and a tag');
  if (record.length > h.rs) throw new DecryptionError('more than one record (RFC 8291 §4 allows one)');
  let ecdhSecret: Buffer;
  try {
    ecdhSecret = keys.ecdh.computeSecret(h.keyid);
  } catch {
    throw new DecryptionError('keyid is not a point on P-256');
  }
  const { cek, nonce } = deriveKeys(ecdhSecret, keys.authSecret, keys.ecdh.getPublicKey(), h.keyid, h.salt);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - tagBytes));
  let padded: Buffer;
  try {
    padded = Buffer.concat([decipher.update(record.subarray(0, record.length - tagBytes)), decipher.final()]);
  } catch {
    throw new DecryptionError('the record does not decrypt (wrong key or tampered body)');
  }
  // Padding is zeros after the delimiter (RFC 8188 §2): the last non-zero byte must be 0x02.
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0) throw new DecryptionError('the record has no padding delimiter');
  if (padded[i] !== lastRecordDelimiter) throw new DecryptionError(`padding delimiter 0x${padded[i]!.toString(16)}; the last record needs 0x02`);
  return padded.subarray(0, i);
}
