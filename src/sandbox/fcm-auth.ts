/**
 * The FCM simulator's OAuth side (https://developers.google.com/identity/protocols/oauth2/service-account): the service account the
 * sandbox issues, its token endpoint (the JWT-bearer grant, verified as Google verifies it) and the
 * access tokens it handed out, which every send must carry.
 *
 * Granting verifies an RS256 signature (slow, once an hour per client); checking a send's bearer
 * token is one map lookup and one clock read, so sends stay cheap.
 */
import { generateKeyPair, randomBytes, randomInt, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { refusals, type FcmRefusal } from './fcm-checks.js';

/** A Google service-account key file, as GET /_sandbox/credentials lists it (docs/sandbox.md). */
// A type, not an interface, so it is assignable to the domain's FcmServiceAccountInput (which has an index signature).
export type FcmServiceAccountJson = {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  /** PKCS#8 PEM, as in Google's key files. */
  private_key: string;
  client_email: string;
  token_uri: string;
};

/** The issued account with the public half of its key, which the token endpoint verifies against. */
export interface FcmIssuedAccount {
  serviceAccount: FcmServiceAccountJson;
  publicKey: KeyObject;
}

/** Scopes that let a token send FCM messages: firebase.messaging (https://firebase.google.com/docs/cloud-messaging/send/v1-api), or cloud-platform, which includes it (https://developers.google.com/identity/protocols/oauth2/service-account). */
export const sendScopes = ['https://www.googleapis.com/auth/firebase.messaging', 'https://www.googleapis.com/auth/cloud-platform'];
export const jwtBearerGrantType = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** "exp: at most iat + 3600" (https://developers.google.com/identity/protocols/oauth2/service-account). */
export const maxAssertionLifetimeS = 3600;
/** Google's answer says 3599 (https://developers.google.com/identity/protocols/oauth2/service-account); the token is accepted exactly that long. */
export const accessTokenLifetimeS = 3599;
/** How far in the future an assertion's iat may be: clocks differ a little (a tolerance of Herald's choosing). */
export const allowedClockSkewS = 300;

/** Far more than any well-behaved set of clients holds at once (one token per account per hour). */
const maxLiveTokens = 100_000;

const generateRsaKeyPair = promisify(generateKeyPair);

/** A fresh RSA 2048 key pair: Google's service-account keys are RSA 2048. */
export async function createFcmSigningKey(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  return generateRsaKeyPair('rsa', { modulusLength: 2048 });
}

/** The service account around a key, once the token endpoint's URL is known. */
export function issueFcmServiceAccount(key: { privateKey: KeyObject; publicKey: KeyObject }, tokenUri: string): FcmIssuedAccount {
  const project = `herald-sandbox-${randomInt(100_000, 1_000_000)}`;
  return {
    serviceAccount: {
      type: 'service_account',
      project_id: project,
      // Google's key ids are 40 hex characters.
      private_key_id: randomBytes(20).toString('hex'),
      private_key: key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: `firebase-adminsdk-sandbox@${project}.iam.gserviceaccount.com`,
      token_uri: tokenUri,
    },
    publicKey: key.publicKey,
  };
}

/** The token endpoint's answer: 200 with a token, or an OAuth error (RFC 6749 §5.2) with Google's words (not verified against the live service). */
export interface GrantAnswer {
  status: number;
  body: Record<string, unknown>;
}

const grantError = (error: string, description: string, status = 400): GrantAnswer => ({ status, body: { error, error_description: description } });
const badSignature = grantError('invalid_grant', 'Invalid JWT Signature.');
const badTimes = grantError('invalid_grant',
  'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');

export interface AccessTokenIssuer {
  /** POST /oauth2/token with a form-encoded body. */
  grant(form: string): Promise<GrantAnswer>;
  /** The refusal for a send's `authorization` header, or undefined when it carries a live token of ours. */
  check(authorization: string | undefined): FcmRefusal | undefined;
}

export function createAccessTokenIssuer(o: { account: FcmIssuedAccount; clock: () => number }): AccessTokenIssuer {
  const sa = o.account.serviceAccount;
  /** Issued access token → expiry in ms. */
  const live = new Map<string, number>();

  // Tokens live a fixed time, so the map's insertion order is expiry order: the expired ones are
  // at its start, and a misbehaving client granting per send cannot grow it past maxLiveTokens.
  const forget = (now: number) => {
    for (const [t, exp] of live) {
      if (exp > now && live.size < maxLiveTokens) break;
      live.delete(t);
    }
  };

  return {
    async grant(form) {
      const params = new URLSearchParams(form);
      const grantType = params.get('grant_type');
      if (grantType === null) return grantError('invalid_request', 'Missing required parameter: grant_type');
      if (grantType !== jwtBearerGrantType) return grantError('unsupported_grant_type', `Invalid grant_type: ${grantType}`);
      const assertion = params.get('assertion');
      if (!assertion) return grantError('invalid_request', 'Missing required parameter: assertion');
      const now = o.clock();
      let claims: Record<string, unknown>;
      try {
        const header = decodeProtectedHeader(assertion);
        // Google picks the key by kid; a JWT naming another key fails its signature check. (The
        // algorithm is pinned by jwtVerify below: an HS256 or "none" JWT fails there.)
        if (header.kid !== undefined && header.kid !== sa.private_key_id) return badSignature;
        ({ payload: claims } = await jwtVerify(assertion, o.account.publicKey, { algorithms: ['RS256'], currentDate: new Date(now) }));
      } catch (err) {
        return err instanceof joseErrors.JWTExpired || err instanceof joseErrors.JWTClaimValidationFailed ? badTimes : badSignature;
      }
      if (claims.iss !== sa.client_email) return grantError('invalid_grant', 'Invalid grant: account not found');
      if (claims.aud !== sa.token_uri) return grantError('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${sa.token_uri}`);
      const { iat, exp } = claims;
      const nowS = now / 1000;
      if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isInteger(iat) || !Number.isInteger(exp)
        || exp - iat > maxAssertionLifetimeS || exp <= iat || exp <= nowS || iat > nowS + allowedClockSkewS) {
        return badTimes;
      }
      const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
      if (!scopes.some((s) => sendScopes.includes(s))) {
        return grantError('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
      }
      forget(now);
      // Google's access tokens start with "ya29." (not verified against the live service); the rest only has to be unguessable.
      const token = `ya29.sandbox-${randomBytes(32).toString('base64url')}`;
      live.set(token, now + accessTokenLifetimeS * 1000);
      return { status: 200, body: { access_token: token, expires_in: accessTokenLifetimeS, token_type: 'Bearer' } };
    },

    check(authorization) {
      if (authorization === undefined || authorization === '') return refusals.missingCredentials;
      if (authorization.length < 8 || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return refusals.invalidCredentials;
      const exp = live.get(authorization.slice(7));
      return exp !== undefined && o.clock() < exp ? undefined : refusals.invalidCredentials;
    },
  };
}
