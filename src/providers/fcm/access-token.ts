/**
 * OAuth2 access tokens for FCM from a service account: the JWT-bearer grant of
 * https://developers.google.com/identity/protocols/oauth2/service-account. An RS256 assertion `{iss, scope, aud, iat, exp}` with
 * `kid` = private_key_id is POSTed form-encoded to the account's token_uri; the access token that
 * comes back is shared by every send of the account until shortly before it expires, and replaced
 * once, at once, when FCM answers 401 UNAUTHENTICATED. Concurrent callers share one grant in flight.
 */
import http from 'node:http';
import https from 'node:https';
import { SignJWT, importPKCS8, type CryptoKey } from 'jose';
import { parseRetryAfter } from '../apns/outcome.js';
import { portOfUrl } from '../../domain/network-address.js';
import { ForbiddenAddress, unguarded, type OutboundGuard } from '../outbound-guard.js';

/** The fields of a Google service-account JSON key file that the grant and the send need. */
export interface FcmServiceAccount {
  type?: string;
  project_id: string;
  private_key_id: string;
  /** PKCS#8 PEM. */
  private_key: string;
  client_email: string;
  /** https://oauth2.googleapis.com/token for Google; the sandbox names its own. */
  token_uri: string;
}

export interface AccessToken {
  token: string;
  expiresAtMs: number;
}

/** The only scope FCM sends need (https://firebase.google.com/docs/cloud-messaging/send/v1-api). */
export const firebaseMessagingScope = 'https://www.googleapis.com/auth/firebase.messaging';
export const jwtBearerGrantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** "exp: at most iat + 3600" (https://developers.google.com/identity/protocols/oauth2/service-account). */
export const assertionLifetimeS = 3600;
/**
 * A token is replaced this long before Google's `expires_in` runs out, so no send carries one that
 * expires in flight: google-auth-library's eagerRefreshThresholdMillis is the same 5 minutes.
 */
export const refreshMarginMs = 5 * 60_000;
/** After a failed grant, sends are answered with its error this long before asking again (no retry storm on the token endpoint). */
export const failedGrantHoldMs = 5_000;

/**
 * Why no access token could be had: the account is wrong ('credentials'), the endpoint failed
 * ('unavailable'), or its token_uri is on a private network and was not connected to ('forbidden').
 */
export class AccessTokenError extends Error {
  constructor(
    message: string,
    readonly kind: 'credentials' | 'unavailable' | 'forbidden',
    readonly status?: number | undefined,
    readonly retryAfterMs?: number | undefined,
  ) {
    super(message);
  }
}

export interface AccessTokenOptions {
  clock?: (() => number) | undefined;
  /** A CA to trust for the token endpoint (the sandbox's certificate); absent for Google. */
  ca?: string | undefined;
  timeoutMs?: number | undefined;
  /** Refuses token_uri hosts on private networks; every host is reachable without it. */
  guard?: OutboundGuard | undefined;
}

export interface AccessTokens {
  /** The account's current token, granted when there is none or it is about to expire. */
  get(account: FcmServiceAccount): Promise<AccessToken>;
  /** FCM refused `stale` (401): a new grant, unless another send already replaced it. */
  refresh(account: FcmServiceAccount, stale: AccessToken): Promise<AccessToken>;
}

interface Entry {
  promise: Promise<AccessToken>;
  /** Set when the grant failed: the failure is answered until failedGrantHoldMs after this. */
  failedAtMs?: number;
}

export function createAccessTokens(o: AccessTokenOptions = {}): AccessTokens {
  const clock = o.clock ?? Date.now;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const keys = new Map<string, Promise<CryptoKey>>();
  const entries = new Map<string, Entry>();
  const cacheKey = (a: FcmServiceAccount) => `${a.client_email}\n${a.private_key_id}\n${a.token_uri}`;

  const signingKey = (a: FcmServiceAccount): Promise<CryptoKey> => {
    // Importing a key is not free (jose's importPKCS8; honojs/hono#5271 caches it the same way): once per key, and again only after a failure.
    let key = keys.get(a.private_key);
    if (!key) {
      key = importPKCS8(a.private_key, 'RS256');
      keys.set(a.private_key, key);
      key.catch(() => keys.delete(a.private_key));
    }
    return key;
  };

  const grant = async (a: FcmServiceAccount): Promise<AccessToken> => {
    let key: CryptoKey;
    try {
      key = await signingKey(a);
    } catch (err) {
      throw new AccessTokenError(`the service account's private_key cannot sign RS256: ${(err as Error).message}`, 'credentials');
    }
    const startedMs = clock();
    const iat = Math.floor(startedMs / 1000);
    const assertion = await new SignJWT({ scope: firebaseMessagingScope })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: a.private_key_id })
      .setIssuer(a.client_email)
      .setAudience(a.token_uri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + assertionLifetimeS)
      .sign(key);
    const form = new URLSearchParams({ grant_type: jwtBearerGrantType, assertion }).toString();
    const answer = await postForm(a.token_uri, form, o.ca, timeoutMs, o.guard ?? unguarded);
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(answer.body) as Record<string, unknown>;
    } catch {
      // not JSON: judged by status below
    }
    if (answer.status === 200 && typeof json.access_token === 'string' && typeof json.expires_in === 'number') {
      return { token: json.access_token, expiresAtMs: startedMs + json.expires_in * 1000 };
    }
    const why = typeof json.error === 'string'
      ? `${json.error}${typeof json.error_description === 'string' ? `: ${json.error_description}` : ''}`
      : `HTTP ${answer.status}`;
    const message = `the token endpoint refused the service account (${why})`;
    // 4xx other than 429: invalid_grant, invalid_client, unauthorized_client… the account must be fixed.
    if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
      throw new AccessTokenError(message, 'credentials', answer.status);
    }
    throw new AccessTokenError(message, 'unavailable', answer.status, parseRetryAfter(answer.retryAfter, clock()));
  };

  const start = (a: FcmServiceAccount, k: string): Promise<AccessToken> => {
    const entry: Entry = { promise: grant(a) };
    entries.set(k, entry);
    entry.promise.catch(() => {
      entry.failedAtMs = clock();
    });
    return entry.promise;
  };

  const fresh = (t: AccessToken) => clock() < t.expiresAtMs - refreshMarginMs;

  const get = async (a: FcmServiceAccount): Promise<AccessToken> => {
    const k = cacheKey(a);
    const entry = entries.get(k);
    if (entry) {
      const t = await entry.promise.catch((err: unknown) => {
        if (entry.failedAtMs !== undefined && clock() - entry.failedAtMs < failedGrantHoldMs) throw err;
        return undefined;
      });
      if (t && fresh(t)) return t;
      if (entries.get(k) !== entry) return get(a); // another caller already started the next grant
    }
    return start(a, k);
  };

  const refresh = async (a: FcmServiceAccount, stale: AccessToken): Promise<AccessToken> => {
    const k = cacheKey(a);
    const entry = entries.get(k);
    const current = await entry?.promise.catch(() => undefined);
    if (current && current.token !== stale.token) return current;
    if (entry && entries.get(k) !== entry) return refresh(a, stale);
    return start(a, k);
  };

  return { get, refresh };
}

interface FormAnswer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

/** One form POST over HTTP/1.1 (once an hour per account: no pooling needed); http: for local tests. */
function postForm(uri: string, form: string, ca: string | undefined, timeoutMs: number, guard: OutboundGuard): Promise<FormAnswer> {
  return new Promise<FormAnswer>((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      reject(new AccessTokenError(`token_uri is not a URL: ${uri}`, 'credentials'));
      return;
    }
    const port = portOfUrl(url);
    try {
      guard.check(url.hostname, port); // a literal address: no lookup will see it
    } catch (err) {
      reject(new AccessTokenError(`token_uri: ${(err as Error).message}`, 'forbidden'));
      return;
    }
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form), accept: 'application/json' };
    const onAnswer = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new AccessTokenError(`token endpoint: ${err.message}`, 'unavailable')));
      res.on('end', () => {
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), retryAfter: Array.isArray(ra) ? ra[0] : ra });
      });
    };
    const req = url.protocol === 'http:'
      ? http.request(url, { method: 'POST', headers, agent: false, lookup: guard.lookupFor(port) }, onAnswer)
      : https.request(url, { method: 'POST', headers, agent: false, ca, lookup: guard.lookupFor(port) }, onAnswer);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof ForbiddenAddress
      ? new AccessTokenError(`token_uri: ${err.message}`, 'forbidden')
      : new AccessTokenError(`cannot reach the token endpoint ${url.origin}: ${err.message}`, 'unavailable')));
    req.end(form);
  });
}
