/**
 * Identity verification for SDK calls: the app's server proves to Herald who its user is by giving
 * the app a token, the HMAC-SHA256 of the user's custom_id under the project's identity secret, in
 * hex. It is the scheme of Intercom's identity verification ("OpenSSL::HMAC.hexdigest('sha256',
 * secret, user_id)", https://developers.intercom.com/installing-intercom/docs/enable-identity-verification-on-your-web-product)
 * and of OneSignal's SDK 3/4 (https://documentation.onesignal.com/v9.0/docs/identity-verification),
 * so a server that already signs for them signs for Herald the same way:
 *
 *   printf %s "$CUSTOM_ID" | openssl dgst -sha256 -hmac "$IDENTITY_SECRET" | awk '{print $NF}'
 *
 * The key is the secret's text as given (UTF-8), the message the custom_id's UTF-8 bytes, nothing
 * else: no prefix, no project id (the secret is the project's own). Pure apart from node:crypto.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The prefix tells the secret's use at a glance (and lets secret scanners recognise a leaked one). */
export const identitySecretPrefix = 'hrld_ident_';

/** A new identity secret: 32 random bytes (RFC 2104 §3: a key as long as the hash output). */
export function newIdentitySecret(): string {
  return identitySecretPrefix + randomBytes(32).toString('base64url');
}

/** The token the app's server gives the user `customId`. */
export function identityToken(secret: string, customId: string): string {
  return createHmac('sha256', secret).update(customId, 'utf8').digest('hex');
}

const hexToken = /^[0-9a-fA-F]{64}$/;

/**
 * True when `token` is the token of `customId` under one of `secrets` (the current one, and the
 * previous one during a rotation's grace period). Compared in constant time (timingSafeEqual), so
 * the answer's timing tells nothing of how much of a guess was right.
 */
export function verifyIdentityToken(secrets: readonly string[], customId: string, token: string): boolean {
  if (!hexToken.test(token)) return false;
  const given = Buffer.from(token.toLowerCase(), 'hex');
  let ok = false;
  // Every secret is tried, so the time does not depend on which one matched.
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(customId, 'utf8').digest();
    ok = timingSafeEqual(given, expected) || ok;
  }
  return ok;
}
