/**
 * VAPID checks of the Web Push simulator (RFC 8292 §2–§4): `Authorization: vapid t=<JWT>, k=<key>`, an ES256 JWT verified with `k`,
 * `aud` the push resource's origin, `exp` in the future and at most 24 h ahead, `sub` a contact.
 * Refusal texts are FCM's, as Chromium parses them (Chromium's chrome/browser/sharing/web_push sender), where FCM has one.
 *
 * Every sandbox subscription is treated as restricted (made with an applicationServerKey, as
 * browsers require today), so authentication is never optional: absent is 401, invalid 403
 * (RFC 8292 §4.2).
 *
 * A sender reuses one token for hours, so the signature of an Authorization value is verified once
 * and its claims remembered; later requests with the same value cost a map lookup and the time and
 * audience comparisons, which must be made per request because they depend on the clock and origin.
 */
import { createPublicKey, verify } from 'node:crypto';
import { isP256Point, type Refusal } from './webpush-checks.js';

const refuse = (status: number, reason: string): Refusal => Object.freeze({ status, reason });

export const vapidRefusals = {
  /** No `vapid` authentication at all: RFC 8292 §4.2's 401. The legacy `WebPush` scheme counts as none. */
  missing: refuse(401, 'missing vapid authorization'),
  missingParams: refuse(403, 'vapid authorization needs t and k'),
  invalidJwt: refuse(403, 'invalid JWT provided'),
  uncompressedKey: refuse(403, 'public key must be in uncompressed form. (First byte needs to be 0x04)'),
  keyNotOnCurve: refuse(403, 'VAPID public key must be on the P-256 curve'),
  invalidAud: refuse(403, 'invalid aud claim'),
  wrongAud: refuse(403, 'aud claim in the token MUST include the origin of the push resource URL'),
  missingExp: refuse(403, 'exp claim is missing'),
  expired: refuse(403, 'token has expired'),
  expTooFar: refuse(403, 'exp claim MUST NOT be more than 24 hours from the time of the request'),
  // RFC 8292 §2.1 says SHOULD; Apple's push service refuses a token without one, so the sandbox does too.
  missingSub: refuse(403, 'sub claim must be a mailto: or https: contact'),
  // "A push service SHOULD reject push messages that have identical values for these parameters with
  // a 400" (RFC 8292 §3.2): k and the message's keyid.
  keyIsKeyid: refuse(400, 'the vapid key k must not be the message encryption key (keyid)'),
} as const;

/** "exp … MUST NOT be more than 24 hours from the time of the request" (RFC 8292 §2). */
export const maxTokenLifetimeMs = 24 * 3_600_000;

/** What a verified token claims, remembered per Authorization value. */
interface Claims {
  aud: string;
  expMs: number;
  /** The public key `k`, decoded: compared with each message's keyid. */
  key: Buffer;
}

/** Authorization values remembered at once; past it the memory starts over (a client keeps one per key). */
const maxRemembered = 1024;

export interface VapidCheck {
  /**
   * Undefined when the request may proceed, else the refusal. `origin` is the push resource's
   * origin as the client addressed it; `keyid` the message's encryption key, null for no payload.
   */
  authorize(authorization: string | undefined, origin: string, keyid: Buffer | null): Refusal | undefined;
}

export function createVapidCheck(clock: () => number): VapidCheck {
  let remembered = new Map<string, Claims | Refusal>();

  return {
    authorize(authorization, origin, keyid) {
      if (authorization === undefined || authorization === '') return vapidRefusals.missing;
      let verdict = remembered.get(authorization);
      if (verdict === undefined) {
        verdict = verifyAuthorization(authorization);
        if (remembered.size >= maxRemembered) remembered = new Map();
        remembered.set(authorization, verdict);
      }
      if ('status' in verdict) return verdict;
      if (verdict.aud !== origin) return vapidRefusals.wrongAud;
      const now = clock();
      if (verdict.expMs <= now) return vapidRefusals.expired;
      if (verdict.expMs > now + maxTokenLifetimeMs) return vapidRefusals.expTooFar;
      if (keyid !== null && keyid.equals(verdict.key)) return vapidRefusals.keyIsKeyid;
      return undefined;
    },
  };
}

/**
 * `vapid t=…, k=…` (RFC 8292 §3: the scheme is case-insensitive, parameters come in any order,
 * separated by commas with optional whitespace).
 */
export function parseVapidAuthorization(authorization: string): { t?: string; k?: string } | undefined {
  const m = /^vapid\s+(.*)$/is.exec(authorization.trim());
  if (!m) return undefined;
  const out: { t?: string; k?: string } = {};
  for (const part of m[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1); // quoted-string form
    if (name === 't') out.t = value;
    else if (name === 'k') out.k = value;
  }
  return out;
}

const base64url = /^[A-Za-z0-9_-]*$/;

/** Signature, key and the time-independent claims of one Authorization value. */
function verifyAuthorization(authorization: string): Claims | Refusal {
  const p = parseVapidAuthorization(authorization);
  if (!p) return vapidRefusals.missing;
  if (!p.t || !p.k) return vapidRefusals.missingParams;
  if (!base64url.test(p.k)) return vapidRefusals.uncompressedKey;
  const key = Buffer.from(p.k, 'base64url');
  if (key.length !== 65 || key[0] !== 0x04) return vapidRefusals.uncompressedKey;
  if (!isP256Point(key)) return vapidRefusals.keyNotOnCurve;

  const parts = p.t.split('.');
  if (parts.length !== 3 || !parts.every((s) => base64url.test(s))) return vapidRefusals.invalidJwt;
  const [h, c, s] = parts as [string, string, string];
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  } catch {
    return vapidRefusals.invalidJwt;
  }
  // ES256 only (RFC 8292 §2: "signed with ECDSA on the NIST P-256 curve").
  if (typeof header !== 'object' || header === null || (header as { alg?: unknown }).alg !== 'ES256') return vapidRefusals.invalidJwt;
  const signature = Buffer.from(s, 'base64url');
  if (signature.length !== 64) return vapidRefusals.invalidJwt; // JWS ES256 is r ‖ s (RFC 7518 §3.4)
  const publicKey = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: key.subarray(1, 33).toString('base64url'), y: key.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  if (!verify('sha256', Buffer.from(`${h}.${c}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    return vapidRefusals.invalidJwt;
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return vapidRefusals.invalidJwt;
  const { aud, exp, sub } = claims as { aud?: unknown; exp?: unknown; sub?: unknown };
  if (typeof aud !== 'string' || aud === '') return vapidRefusals.invalidAud;
  if (exp === undefined) return vapidRefusals.missingExp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return vapidRefusals.invalidJwt;
  if (typeof sub !== 'string' || !/^(mailto:|https:)./.test(sub)) return vapidRefusals.missingSub;
  return { aud, expMs: exp * 1000, key };
}
