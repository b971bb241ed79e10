/**
 * Provider-token checks of the APNs simulator (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns): an ES256 JWT
 * `{alg, kid}` / `{iss, iat}` signed with the key the sandbox issued.
 *
 * Verifying a signature costs far more than the rest of a request, and a client reuses one token for
 * 20 to 60 minutes, so each connection remembers the token it last accepted: later requests with the
 * same string cost one string compare and one clock read. Only a token this connection has not seen
 * yet is verified (asynchronously, once, however many requests carry it concurrently).
 */
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { refusals, type Refusal } from './apns-checks.js';

/** "If iat is more than 1 h old, the request fails with 403 ExpiredProviderToken" (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns). */
export const tokenMaxAgeMs = 3_600_000;
/** "Refresh your token no more than once every 20 minutes" (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns), else 429 TooManyProviderTokenUpdates. */
export const tokenMinRefreshMs = 20 * 60_000;

/** What one connection knows about provider tokens. */
export interface ConnectionTokens {
  /** The token last accepted on this connection, and its `iat` in ms. */
  token: string | undefined;
  iatMs: number;
  /** Tokens being verified right now, shared by the requests that carry them. */
  verifying: Map<string, Promise<number | Refusal>> | undefined;
  /** The last token found invalid: a client repeating it is refused without verifying again. */
  invalidToken: string | undefined;
}

export function newConnectionTokens(): ConnectionTokens {
  return { token: undefined, iatMs: 0, verifying: undefined, invalidToken: undefined };
}

export interface ProviderTokenCheck {
  /**
   * Undefined when the request may proceed, else the refusal. Synchronous for a token the connection
   * already accepted; a promise only while a new token is verified.
   */
  authorize(conn: ConnectionTokens, authorization: string | undefined): Refusal | undefined | Promise<Refusal | undefined>;
}

export function createProviderTokenCheck(o: {
  teamId: string;
  keyId: string;
  publicKey: KeyObject;
  clock: () => number;
}): ProviderTokenCheck {
  /** The token's `iat` in ms when its header, signature and issuer are right; else InvalidProviderToken. */
  const verify = async (jwt: string): Promise<number | Refusal> => {
    try {
      // "APNs supports only the ES256 algorithm" and the kid must name the issued key (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns).
      const header = decodeProtectedHeader(jwt);
      if (header.alg !== 'ES256' || header.kid !== o.keyId) return refusals.invalidProviderToken;
      const { payload } = await jwtVerify(jwt, o.publicKey, {
        algorithms: ['ES256'],
        issuer: o.teamId,
        currentDate: new Date(o.clock()),
      });
      if (typeof payload.iat !== 'number' || !Number.isInteger(payload.iat)) return refusals.invalidProviderToken;
      return payload.iat * 1000;
    } catch {
      return refusals.invalidProviderToken; // malformed, unsigned, wrong signature or issuer: all the same to Apple
    }
  };

  const expired = (iatMs: number) => o.clock() - iatMs > tokenMaxAgeMs;

  /** A verified token that is not the connection's current one: expired, too early a refresh, or adopted. */
  const adopt = (conn: ConnectionTokens, jwt: string, verdict: number | Refusal): Refusal | undefined => {
    if (typeof verdict !== 'number') {
      conn.invalidToken = jwt;
      return verdict;
    }
    if (jwt === conn.token) return expired(conn.iatMs) ? refusals.expiredProviderToken : undefined;
    if (expired(verdict)) return refusals.expiredProviderToken;
    // A refresh is "too often" when the token it replaces on this connection was issued less than
    // 20 minutes ago. Measuring from the old token's iat, rather than from when this connection first
    // saw it, keeps a client that refreshes on schedule out of trouble on a connection it opened late
    // in the old token's life.
    if (conn.token !== undefined && o.clock() - conn.iatMs < tokenMinRefreshMs) return refusals.tooManyProviderTokenUpdates;
    conn.token = jwt;
    conn.iatMs = verdict;
    return undefined;
  };

  return {
    authorize(conn, authorization) {
      if (authorization === undefined || authorization === '') return refusals.missingProviderToken;
      // "authorization: bearer <JWT>" (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
      if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return refusals.invalidProviderToken;
      const jwt = authorization.slice(7);
      if (jwt === conn.token) return expired(conn.iatMs) ? refusals.expiredProviderToken : undefined;
      if (jwt === conn.invalidToken) return refusals.invalidProviderToken;
      conn.verifying ??= new Map();
      let pending = conn.verifying.get(jwt);
      if (!pending) {
        pending = verify(jwt);
        conn.verifying.set(jwt, pending);
        const forget = () => conn.verifying?.delete(jwt);
        pending.then(forget, forget);
      }
      return pending.then((verdict) => adopt(conn, jwt, verdict));
    },
  };
}
