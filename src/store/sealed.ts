/**
 * Secrets at rest: AES-256-GCM under a key derived from the master key (src/store/master-key.ts).
 *
 *   sealed = version 2 (1 byte) ‖ key id (8 bytes) ‖ nonce (12 bytes, random per seal) ‖ ciphertext ‖ tag (16 bytes)
 *
 * The key id names the master key that sealed the value, so while the master key is rotated
 * (src/store/rotate-master-key.ts) a keyring holding the new key and the previous one opens every
 * row with the key that sealed it and seals under the new one. Version 1 values (no key id, sealed
 * before rotation existed) open with whichever held key authenticates them. The additional
 * authenticated data is the header (version and key id) plus the caller's context (e.g. the project
 * id and provider of the row), so a sealed value copied into another row, or a flipped bit anywhere,
 * fails to open instead of decrypting into the wrong place.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** The version byte written today: with a key id. */
export const currentKeyVersion = 2;
const legacyVersion = 1;
const keyIdBytes = 8;
const nonceBytes = 12; // the GCM nonce size NIST SP 800-38D recommends; random is safe far beyond our seal count
const tagBytes = 16;

/** A sealed value that does not open: tampered, bound to another row, or sealed under another key. */
export class SealedValueError extends Error {}

/**
 * The keys derived for purposes other than sealing. They outlive a master key rotation (the
 * rotation stores them sealed, src/store/rotate-master-key.ts): unsubscribe links in mail already
 * sent keep working, and fingerprints of equal secrets stay equal.
 */
export const derivedPurposes = ['fingerprint', 'secret unsubscribe links'] as const;
export type DerivedKeys = Record<(typeof derivedPurposes)[number], Buffer>;

export interface Keyring {
  /** Encrypts `plaintext` under the current key, binding it to `context` (which must be given again to open it). */
  seal(plaintext: Uint8Array | string, context: string): Buffer;
  /** The plaintext of `sealed`, opened with whichever held key sealed it, or SealedValueError. */
  open(sealed: Uint8Array, context: string): Buffer;
  /**
   * A short keyed fingerprint of a secret, safe to show: equal secrets give equal fingerprints in
   * one deployment, and a weak secret (a password) cannot be guessed from it without the master key.
   */
  fingerprint(secret: string): string;
  /** An HMAC of a constant under the current master key: equal for equal keys, and reveals nothing of it. */
  readonly checkValue: string;
  /** The check values of every held key, the current one first. */
  readonly checkValues: readonly string[];
  /** The current key's id as written in sealed values (the first 8 bytes of its check value). */
  readonly keyId: Buffer;
  /** A 32-byte key for one purpose (e.g. signing unsubscribe links), the same in every process of a deployment. */
  secret(purpose: 'unsubscribe links'): Buffer;
  /** The derived keys in use, to be kept across a rotation. */
  derivedKeys(): DerivedKeys;
}

const derive = (masterKey: Buffer, purpose: string): Buffer =>
  Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `herald ${purpose} v1`, 32));

const checkOf = (masterKey: Buffer) => createHmac('sha256', masterKey).update('herald master key check v1').digest();

/** The derived keys a master key gives (what a deployment that never rotated uses). */
export function deriveKeys(masterKey: Buffer): DerivedKeys {
  return Object.fromEntries(derivedPurposes.map((p) => [p, derive(masterKey, p)])) as DerivedKeys;
}

interface HeldKey { id: Buffer; sealingKey: Buffer; checkValue: string }

function holdKey(masterKey: Buffer): HeldKey {
  if (masterKey.length !== 32) throw new RangeError(`the master key must be 32 bytes, got ${masterKey.length}`);
  const check = checkOf(masterKey);
  // Separate keys per purpose: the sealing key never signs anything shown to users.
  return { id: check.subarray(0, keyIdBytes), sealingKey: derive(masterKey, 'sealing'), checkValue: check.toString('base64url') };
}

/**
 * A keyring sealing under `masterKey` and opening values sealed under it or under any of
 * `o.previous` (the keys a rotation moves away from). `o.derived` are the deployment's derived
 * keys when they differ from the current key's own (after a rotation).
 */
export function createKeyring(masterKey: Buffer, o: { previous?: Buffer[]; derived?: DerivedKeys } = {}): Keyring {
  const keys = [holdKey(masterKey), ...(o.previous ?? []).map(holdKey)];
  const current = keys[0]!;
  const derived = o.derived ?? deriveKeys(masterKey);

  const tryOpen = (key: HeldKey, header: Buffer, body: Buffer, context: string): Buffer | undefined => {
    const decipher = createDecipheriv('aes-256-gcm', key.sealingKey, body.subarray(0, nonceBytes));
    decipher.setAAD(Buffer.concat([header, Buffer.from(context, 'utf8')]));
    decipher.setAuthTag(body.subarray(body.length - tagBytes));
    try {
      return Buffer.concat([decipher.update(body.subarray(nonceBytes, body.length - tagBytes)), decipher.final()]);
    } catch {
      return undefined; // GCM says only "unable to authenticate": tampering, another row's context, or another key.
    }
  };

  return {
    checkValue: current.checkValue,
    checkValues: keys.map((k) => k.checkValue),
    keyId: current.id,
    secret: (purpose) => derived[`secret ${purpose}`],
    derivedKeys: () => derived,
    seal(plaintext, context) {
      const header = Buffer.concat([Buffer.of(currentKeyVersion), current.id]);
      const nonce = randomBytes(nonceBytes);
      const cipher = createCipheriv('aes-256-gcm', current.sealingKey, nonce);
      cipher.setAAD(Buffer.concat([header, Buffer.from(context, 'utf8')]));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
    },
    open(sealed, context) {
      const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      const version = data[0];
      const headerBytes = version === legacyVersion ? 1 : 1 + keyIdBytes;
      if (data.length < headerBytes + nonceBytes + tagBytes) throw new SealedValueError('the sealed value is truncated');
      const header = data.subarray(0, headerBytes);
      const body = data.subarray(headerBytes);
      let candidates: HeldKey[];
      if (version === legacyVersion) candidates = keys;
      else if (version === currentKeyVersion) {
        const id = data.subarray(1, 1 + keyIdBytes);
        candidates = keys.filter((k) => k.id.equals(id));
        if (candidates.length === 0) {
          throw new SealedValueError(`the sealed value was sealed under master key ${id.toString('hex')}, which this process does not hold ` +
            `(it holds ${keys.map((k) => k.id.toString('hex')).join(', ')}): the master key was rotated; restart this process with the new key`);
        }
      } else throw new SealedValueError(`the sealed value has format version ${version ?? 'none'}, which this process does not know`);
      for (const key of candidates) {
        const plain = tryOpen(key, header, body, context);
        if (plain) return plain;
      }
      throw new SealedValueError('the sealed value does not open: it was altered, belongs to another row, or was sealed under another master key');
    },
    fingerprint(secret) {
      return 'hmac-sha256:' + createHmac('sha256', derived.fingerprint).update(secret).digest('hex').slice(0, 16);
    },
  };
}
