/**
 * Secrets at rest: AES-256-GCM under a key derived from the master key (src/store/master-key.ts).
 *
 *   sealed = version (1 byte) ‖ nonce (12 bytes, random per seal) ‖ ciphertext ‖ tag (16 bytes)
 *
 * The version byte names the key that sealed the value, so a later key rotation can open old values
 * while sealing new ones under the new key. The additional authenticated data is the version byte
 * plus the caller's context (e.g. the project id and provider of the row), so a sealed value copied
 * into another row, or a flipped bit anywhere, fails to open instead of decrypting into the wrong place.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** The version byte written today: key generation 1. */
export const currentKeyVersion = 1;
const nonceBytes = 12; // the GCM nonce size NIST SP 800-38D recommends; random is safe far beyond our seal count
const tagBytes = 16;

/** A sealed value that does not open: tampered, bound to another row, or sealed under another key. */
export class SealedValueError extends Error {}

export interface Keyring {
  /** Encrypts `plaintext`, binding it to `context` (which must be given again to open it). */
  seal(plaintext: Uint8Array | string, context: string): Buffer;
  /** The plaintext of `sealed`, or SealedValueError. */
  open(sealed: Uint8Array, context: string): Buffer;
  /**
   * A short keyed fingerprint of a secret, safe to show: equal secrets give equal fingerprints in
   * one deployment, and a weak secret (a password) cannot be guessed from it without the master key.
   */
  fingerprint(secret: string): string;
  /** An HMAC of a constant under the master key: equal for equal keys, and reveals nothing of it. */
  readonly checkValue: string;
  /** A 32-byte key for one purpose (e.g. signing unsubscribe links), the same in every process of a deployment. */
  secret(purpose: string): Buffer;
}

const derive = (masterKey: Buffer, purpose: string): Buffer =>
  Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `herald ${purpose} v${currentKeyVersion}`, 32));

export function createKeyring(masterKey: Buffer): Keyring {
  if (masterKey.length !== 32) throw new RangeError(`the master key must be 32 bytes, got ${masterKey.length}`);
  // Separate keys per purpose: the sealing key never signs anything shown to users.
  const sealingKey = derive(masterKey, 'sealing');
  const fingerprintKey = derive(masterKey, 'fingerprint');
  const checkValue = createHmac('sha256', masterKey).update('herald master key check v1').digest('base64url');
  const aad = (version: number, context: string) => Buffer.concat([Buffer.of(version), Buffer.from(context, 'utf8')]);

  return {
    checkValue,
    secret: (purpose) => derive(masterKey, `secret ${purpose}`),
    seal(plaintext, context) {
      const nonce = randomBytes(nonceBytes);
      const cipher = createCipheriv('aes-256-gcm', sealingKey, nonce);
      cipher.setAAD(aad(currentKeyVersion, context));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.of(currentKeyVersion), nonce, body, cipher.getAuthTag()]);
    },
    open(sealed, context) {
      const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      if (data.length < 1 + nonceBytes + tagBytes) throw new SealedValueError('the sealed value is truncated');
      const version = data[0]!;
      if (version !== currentKeyVersion) throw new SealedValueError(`the sealed value names key version ${version}, which this process does not hold`);
      const decipher = createDecipheriv('aes-256-gcm', sealingKey, data.subarray(1, 1 + nonceBytes));
      decipher.setAAD(aad(version, context));
      decipher.setAuthTag(data.subarray(data.length - tagBytes));
      try {
        return Buffer.concat([decipher.update(data.subarray(1 + nonceBytes, data.length - tagBytes)), decipher.final()]);
      } catch {
        // GCM says only "unable to authenticate": tampering, another row's context, or another key.
        throw new SealedValueError('the sealed value does not open: it was altered, belongs to another row, or was sealed under another master key');
      }
    },
    fingerprint(secret) {
      return 'hmac-sha256:' + createHmac('sha256', fingerprintKey).update(secret).digest('hex').slice(0, 16);
    },
  };
}
