/**
 * APNs provider tokens (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns): an ES256 JWT `{alg, kid}` / `{iss, iat}`, shared by every
 * connection of one (team, key). Apple wants it refreshed "no more than once every 20 minutes and no
 * less than once every 60 minutes": it is reused for 40 minutes, and refreshed early only when APNs
 * says it expired (clock skew), once per stale token however many requests saw the refusal.
 */
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';

export interface SigningKey {
  teamId: string;
  keyId: string;
  privateKeyPem: string;
}

export interface ProviderToken {
  jwt: string;
  issuedAtMs: number;
}

/** Inside Apple's 20–60 minute window, with room for clock skew on both sides. */
export const tokenLifetimeMs = 40 * 60_000;

export function createProviderTokens(clock: () => number = Date.now) {
  const keys = new Map<string, Promise<CryptoKey>>();
  const tokens = new Map<string, Promise<ProviderToken>>();

  const mint = async (k: SigningKey, cacheKey: string): Promise<ProviderToken> => {
    let key = keys.get(cacheKey);
    if (!key) {
      key = importPKCS8(k.privateKeyPem, 'ES256');
      keys.set(cacheKey, key);
      key.catch(() => keys.delete(cacheKey)); // a bad key is reported per send, and re-read after a fix
    }
    const issuedAtMs = clock();
    const jwt = await new SignJWT({ iss: k.teamId, iat: Math.floor(issuedAtMs / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid: k.keyId })
      .sign(await key);
    return { jwt, issuedAtMs };
  };

  const issue = (k: SigningKey, cacheKey: string): Promise<ProviderToken> => {
    const p = mint(k, cacheKey);
    tokens.set(cacheKey, p);
    p.catch(() => tokens.delete(cacheKey));
    return p;
  };

  return {
    /** The current token of this key, minted when absent or older than its lifetime. */
    async get(k: SigningKey): Promise<ProviderToken> {
      const cacheKey = `${k.teamId}/${k.keyId}`;
      const cached = tokens.get(cacheKey);
      if (cached) {
        const t = await cached.catch(() => undefined);
        if (t && clock() - t.issuedAtMs < tokenLifetimeMs) return t;
        if (tokens.get(cacheKey) !== cached) return this.get(k); // another caller already replaced it
      }
      return issue(k, cacheKey);
    },
    /** APNs called `stale` expired: mint a new one, unless another request already did. */
    async refresh(k: SigningKey, stale: ProviderToken): Promise<ProviderToken> {
      const cacheKey = `${k.teamId}/${k.keyId}`;
      const current = await tokens.get(cacheKey)?.catch(() => undefined);
      if (current && current.jwt !== stale.jwt) return current;
      return issue(k, cacheKey);
    },
  };
}

export type ProviderTokens = ReturnType<typeof createProviderTokens>;
