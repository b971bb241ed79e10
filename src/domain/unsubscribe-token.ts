/**
 * The token of a one-click unsubscribe link (RFC 8058): it binds a project and an email address,
 * so `POST /v1/email/unsubscribe/{token}` needs no API key and no lookup table, and a token cannot
 * be forged or edited to unsubscribe someone else.
 *
 * Layout, URL-safe and compact (well under the 998-byte line limit of a mail header, RFC 5322 §2.1.1):
 *   base64url(version ‖ issued at (Unix seconds, uint32 big-endian) ‖ project uuid (16 bytes) ‖ address, UTF-8) "." base64url(tag)
 * where tag is HMAC-SHA256 under the caller's secret, truncated to 128 bits (NIST SP 800-107 §5.3.4:
 * a 128-bit tag keeps forgery at 2^-128 a try). Pure apart from node:crypto, like ids.ts.
 *
 * A token is valid for a year from its issue time. RFC 8058 sets no limit; the US CAN-SPAM Act
 * wants an opt-out to work for at least 30 days after the message is sent (15 U.S.C. §7704(a)(3)),
 * and people unsubscribe from mail that sat in their inbox for months. A year honours both, and
 * bounds how long a link that leaked (a forwarded message, a mail archive) can act for its holder.
 * Tokens of version 1 carried no issue time and are no longer accepted.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { normalizeEmailAddress } from './email-address.js';

const version = 2;
/** How long a token unsubscribes after it was issued (see above). */
export const unsubscribeTokenValidityMs = 365 * 24 * 3600 * 1000;
const headerBytes = 1 + 4 + 16;
const tagBytes = 16;
/** Keeps tags of this use apart from any other HMAC made with the same secret. */
const context = 'herald/email-unsubscribe/v1\0';
/** Below this the secret could be guessed; a caller passing one is a bug. */
export const minSecretBytes = 16;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface UnsubscribeSubject {
  projectId: string;
  /** Lower-cased, as the suppression list stores it. */
  address: string;
}

/** A token made under the secret and still valid, one made under it but too old, or anything else. */
export type UnsubscribeCheck =
  | { ok: true; subject: UnsubscribeSubject }
  | { ok: false; reason: 'invalid' | 'expired' };

function tagOf(secret: string | Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', secret).update(context).update(payload).digest().subarray(0, tagBytes);
}

function checkSecret(secret: string | Buffer): void {
  if (Buffer.byteLength(secret) < minSecretBytes) throw new Error(`the unsubscribe secret must be at least ${minSecretBytes} bytes`);
}

/** A token for (project, address), issued `now`. The project id must be a UUID, as Herald's are. */
export function signUnsubscribeToken(secret: string | Buffer, projectId: string, address: string, now: Date): string {
  checkSecret(secret);
  const id = projectId.toLowerCase();
  if (!uuidPattern.test(id)) throw new Error('the project id must be a UUID');
  const issuedAt = Buffer.alloc(4);
  issuedAt.writeUInt32BE(Math.floor(now.getTime() / 1000));
  const payload = Buffer.concat([
    Buffer.from([version]), issuedAt, Buffer.from(id.replace(/-/g, ''), 'hex'), Buffer.from(normalizeEmailAddress(address), 'utf8'),
  ]);
  return `${payload.toString('base64url')}.${tagOf(secret, payload).toString('base64url')}`;
}

/** The project and address a token binds, if it was signed under `secret` and is valid at `now`. */
export function verifyUnsubscribeToken(secret: string | Buffer, token: string, now: Date): UnsubscribeCheck {
  checkSecret(secret);
  const invalid = { ok: false, reason: 'invalid' } as const;
  const parts = token.split('.');
  if (parts.length !== 2) return invalid;
  const [p, t] = parts as [string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(p) || !/^[A-Za-z0-9_-]+$/.test(t)) return invalid;
  const payload = Buffer.from(p, 'base64url');
  const tag = Buffer.from(t, 'base64url');
  // Re-encoding must give the same text: base64url has several spellings of the last character.
  if (payload.toString('base64url') !== p || tag.toString('base64url') !== t) return invalid;
  if (tag.length !== tagBytes || payload.length < headerBytes + 1) return invalid;
  if (!timingSafeEqual(tag, tagOf(secret, payload))) return invalid;
  if (payload[0] !== version) return invalid;
  // Checked after the tag: only a token Herald made is told apart as expired.
  if (now.getTime() - payload.readUInt32BE(1) * 1000 > unsubscribeTokenValidityMs) return { ok: false, reason: 'expired' };
  const hex = payload.subarray(5, headerBytes).toString('hex');
  const projectId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { ok: true, subject: { projectId, address: payload.subarray(headerBytes).toString('utf8') } };
}
