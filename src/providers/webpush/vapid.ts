/**
 * VAPID (RFC 8292): the application server proves which key it holds with an ES256 JWT per push
 * service origin, sent as `Authorization: vapid t=<jwt>, k=<public key>` (RFC 8292 §3).
 *
 * A token is minted once per (key, origin) and reused until an hour before it expires: signing is
 * cheap but not free, and a push service that verifies a token once per connection (as the sandbox
 * does) pays for a new one each time it changes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/** A project's VAPID identity. */
export interface VapidCredentials {
  /**
   * The 65-byte uncompressed P-256 public key, base64url: the `applicationServerKey` browsers
   * subscribe with, and `k` of every request (RFC 8292 §3.2).
   */
  publicKey: string;
  /** The private key as PKCS#8 PEM (SEC1 "EC PRIVATE KEY" PEM is read too). */
  privateKeyPem: string;
  /** A `mailto:` or `https:` contact for the push service's operator (RFC 8292 §2.1). */
  subject: string;
}

/** The credentials cannot sign: every push with them would be refused. */
export class InvalidVapidCredentials extends Error {}

/**
 * `exp` may be at most 24 h after the request (RFC 8292 §2); 12 h, as the libraries use, leaves
 * half a day for a push service whose clock runs ahead of ours.
 */
export const vapidTokenLifetimeMs = 12 * 3_600_000;
/** A token is replaced this long before its `exp`, so one never reaches a push service expired. */
export const vapidRenewBeforeMs = 3_600_000;

/** A fresh VAPID key pair, in the forms Herald stores: base64url public point and PKCS#8 PEM. */
export function generateVapidKeys(): { publicKey: string; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey: uncompressedPoint(publicKey).toString('base64url'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** 0x04 ‖ X ‖ Y of a P-256 key (either half of the pair). */
export function uncompressedPoint(key: KeyObject): Buffer {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new InvalidVapidCredentials('the VAPID key is not a P-256 key');
  return Buffer.concat([Buffer.of(0x04), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

/** The `aud` of a push resource: its origin, `scheme://host[:port]` (RFC 8292 §2). */
export function audienceOf(endpoint: string | URL): string {
  return (typeof endpoint === 'string' ? new URL(endpoint) : endpoint).origin;
}

/** The Authorization header value (RFC 8292 §3). */
export function vapidAuthorization(jwt: string, publicKey: string): string {
  return `vapid t=${jwt}, k=${publicKey}`;
}

export interface VapidToken {
  /** The whole Authorization header value. */
  authorization: string;
  jwt: string;
  /** `exp` in epoch ms. */
  expiresAtMs: number;
}

interface ImportedKey {
  pem: string;
  key: KeyObject;
}

export function createVapidTokens(clock: () => number = Date.now) {
  const keys = new Map<string, ImportedKey>();
  const tokens = new Map<string, Promise<VapidToken>>();

  /** The private key, checked once: P-256, matching the public key the browsers subscribed with. */
  const importKey = (c: VapidCredentials): KeyObject => {
    const known = keys.get(c.publicKey);
    if (known && known.pem === c.privateKeyPem) return known.key;
    let key: KeyObject;
    try {
      key = createPrivateKey(c.privateKeyPem);
    } catch (err) {
      throw new InvalidVapidCredentials(`the VAPID private key cannot be read: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new InvalidVapidCredentials('the VAPID private key is not a P-256 key (RFC 8292 §3.2)');
    }
    // A public key that is not the private key's half would be refused by every push service with
    // a subscription made for it; better said here, once, than as a 403 per push.
    if (uncompressedPoint(key).toString('base64url') !== c.publicKey) {
      throw new InvalidVapidCredentials('the VAPID public key is not the public half of the private key');
    }
    if (!/^(mailto:|https:)/.test(c.subject)) {
      throw new InvalidVapidCredentials('the VAPID subject must be a mailto: or https: contact (RFC 8292 §2.1)');
    }
    keys.set(c.publicKey, { pem: c.privateKeyPem, key });
    return key;
  };

  const mint = async (c: VapidCredentials, audience: string): Promise<VapidToken> => {
    const key = importKey(c);
    const expiresAtMs = Math.floor((clock() + vapidTokenLifetimeMs) / 1000) * 1000;
    const jwt = await new SignJWT({ aud: audience, exp: expiresAtMs / 1000, sub: c.subject })
      .setProtectedHeader({ typ: 'JWT', alg: 'ES256' })
      .sign(key);
    return { authorization: vapidAuthorization(jwt, c.publicKey), jwt, expiresAtMs };
  };

  return {
    /**
     * The token for this key at this push service origin: the cached one while it has more than
     * vapidRenewBeforeMs to live, else a new one. Throws InvalidVapidCredentials.
     */
    async get(c: VapidCredentials, audience: string): Promise<VapidToken> {
      const cacheKey = `${c.publicKey} ${audience}`;
      const cached = tokens.get(cacheKey);
      if (cached) {
        const t = await cached.catch(() => undefined);
        if (t && clock() < t.expiresAtMs - vapidRenewBeforeMs && keys.get(c.publicKey)?.pem === c.privateKeyPem) return t;
        if (tokens.get(cacheKey) !== cached) return this.get(c, audience); // another caller already replaced it
      }
      const p = mint(c, audience);
      tokens.set(cacheKey, p);
      p.catch(() => tokens.delete(cacheKey)); // a bad key is reported per send, and read again after a fix
      return p;
    },
  };
}

export type VapidTokens = ReturnType<typeof createVapidTokens>;
