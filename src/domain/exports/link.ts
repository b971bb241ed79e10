/**
 * The signed link an export's file is fetched through: it names the export and when it stops
 * working, and carries an HMAC of both, so it can be handed to a browser or a script without an API
 * key, and an edited link (another export, a later expiry) is refused. The tag is HMAC-SHA256
 * truncated to 128 bits (NIST SP 800-107 §5.3.4), under a key of its own derived from the
 * deployment's link secret (RFC 5869 HKDF), so it signs nothing else.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** How long a link works unless asked otherwise, and at most (the file is kept a week). */
export const defaultLinkSeconds = 3600;
export const maxLinkSeconds = 7 * 24 * 3600;

export const exportLinkKey = (secret: Buffer): Buffer => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'herald export links v1', 32));

const tagOf = (key: Buffer, exportId: string, projectId: string, expires: number): Buffer =>
  createHmac('sha256', key).update(`${exportId}\0${projectId}\0${expires}`).digest().subarray(0, 16);

/** The link's query: `expires` (Unix seconds) and `signature`. */
export function signExportLink(key: Buffer, exportId: string, projectId: string, expires: number): { expires: number; signature: string } {
  return { expires, signature: tagOf(key, exportId, projectId, expires).toString('base64url') };
}

export type LinkVerdict = 'valid' | 'forged' | 'expired';

/** Whether a link is one we signed for this export, and still works at `nowMs`. */
export function verifyExportLink(key: Buffer, exportId: string, projectId: string, expires: number, signature: string, nowMs: number): LinkVerdict {
  const given = Buffer.from(signature, 'base64url');
  const expected = tagOf(key, exportId, projectId, expires);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'forged';
  return expires * 1000 > nowMs ? 'valid' : 'expired';
}
