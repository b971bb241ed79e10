/**
 * The tokens of an email's tracking links: its open pixel and each rewritten link
 * (`GET /r/{token}`, api/routes/tracking.ts). A token binds the project, the delivery, the link's
 * index and, for a click, the URL it redirects to, so the redirect needs no lookup table and a
 * forged or edited token can never send a reader to a URL Herald did not sign (an open redirect,
 * https://cwe.mitre.org/data/definitions/601.html).
 *
 * Layout, URL-safe:
 *   base64url(version ‖ kind (1 open, 2 click) ‖ project uuid (16) ‖ delivery uuid (16) ‖ link index (uint16 BE) ‖ URL, UTF-8) "." base64url(tag)
 * where tag is HMAC-SHA256 under the caller's secret with its own context string (the same scheme
 * as domain/unsubscribe-token.ts, so one secret signs both without one tag ever passing for the
 * other), truncated to 128 bits (NIST SP 800-107 §5.3.4). Tokens do not expire: a link in an old
 * email keeps working, and all it can do is redirect to the URL it was made for.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const version = 1;
const headerBytes = 1 + 1 + 16 + 16 + 2;
const tagBytes = 16;
const context = 'herald/email-tracking/v1\0';
const minSecretBytes = 16;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The most links one email's rewriting numbers (a link index is two bytes). */
export const maxTrackedLinks = 0xffff;

export type TrackingSubject =
  | { kind: 'open'; projectId: string; deliveryId: string }
  | { kind: 'click'; projectId: string; deliveryId: string; link: number; url: string };

function tagOf(secret: string | Buffer, payload: Buffer): Buffer {
  return createHmac('sha256', secret).update(context).update(payload).digest().subarray(0, tagBytes);
}

function checkSecret(secret: string | Buffer): void {
  if (Buffer.byteLength(secret) < minSecretBytes) throw new Error(`the tracking secret must be at least ${minSecretBytes} bytes`);
}

const uuidBytes = (id: string): Buffer => {
  const v = id.toLowerCase();
  if (!uuidPattern.test(v)) throw new Error('ids in a tracking token must be UUIDs');
  return Buffer.from(v.replace(/-/g, ''), 'hex');
};
const uuidText = (b: Buffer): string => {
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export function signTrackingToken(secret: string | Buffer, s: TrackingSubject): string {
  checkSecret(secret);
  const link = Buffer.alloc(2);
  if (s.kind === 'click') {
    if (!Number.isInteger(s.link) || s.link < 0 || s.link > maxTrackedLinks) throw new Error('the link index must fit two bytes');
    link.writeUInt16BE(s.link);
  }
  const payload = Buffer.concat([
    Buffer.from([version, s.kind === 'open' ? 1 : 2]), uuidBytes(s.projectId), uuidBytes(s.deliveryId), link,
    Buffer.from(s.kind === 'click' ? s.url : '', 'utf8'),
  ]);
  return `${payload.toString('base64url')}.${tagOf(secret, payload).toString('base64url')}`;
}

/** What a token binds, if it was signed under `secret`; anything else (forged, edited, cut) is undefined. */
export function verifyTrackingToken(secret: string | Buffer, token: string): TrackingSubject | undefined {
  checkSecret(secret);
  const parts = token.split('.');
  if (parts.length !== 2) return undefined;
  const [p, t] = parts as [string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(p) || !/^[A-Za-z0-9_-]+$/.test(t)) return undefined;
  const payload = Buffer.from(p, 'base64url');
  const tag = Buffer.from(t, 'base64url');
  // Re-encoding must give the same text: base64url has several spellings of the last character.
  if (payload.toString('base64url') !== p || tag.toString('base64url') !== t) return undefined;
  if (tag.length !== tagBytes || payload.length < headerBytes) return undefined;
  if (!timingSafeEqual(tag, tagOf(secret, payload))) return undefined;
  if (payload[0] !== version) return undefined;
  const projectId = uuidText(payload.subarray(2, 18));
  const deliveryId = uuidText(payload.subarray(18, 34));
  if (payload[1] === 1 && payload.length === headerBytes) return { kind: 'open', projectId, deliveryId };
  if (payload[1] !== 2) return undefined;
  return { kind: 'click', projectId, deliveryId, link: payload.readUInt16BE(34), url: payload.subarray(headerBytes).toString('utf8') };
}
