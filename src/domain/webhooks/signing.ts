/**
 * Webhook signatures as the Standard Webhooks specification defines them
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
 * "Signature scheme"): the content signed is `${webhook-id}.${webhook-timestamp}.${body}`, the
 * signature is HMAC-SHA256 under the secret's bytes, base64-encoded, prefixed by its version `v1,`;
 * several signatures (during a secret rotation) are separated by spaces. Secrets are `whsec_`
 * followed by base64 of 24 to 64 random bytes; Herald makes 32.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const secretPrefix = 'whsec_';
const secretBytes = 32;

export function generateSecret(): string {
  return secretPrefix + randomBytes(secretBytes).toString('base64');
}

/** The key bytes of a `whsec_` secret. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(secretPrefix)) throw new RangeError('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(secretPrefix.length), 'base64');
}

/** One `v1,<base64>` signature of a message. `timestamp` is in seconds since the epoch. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of a request: one signature per secret, space-separated (the newest first). */
export function signedHeaders(secrets: readonly string[], id: string, timestamp: number, body: string): SignedHeaders {
  if (secrets.length === 0) throw new RangeError('a webhook needs a secret to be signed with');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' '),
  };
}

/** The secrets that sign now: the current one, and the previous one until its grace ends. */
export function signingSecrets(current: string, previous: { secret: string; expiresAt: number } | null, now: number): string[] {
  return previous && previous.expiresAt > now ? [current, previous.secret] : [current];
}

/** How long a replaced secret keeps signing, so receivers can move to the new one. */
export const rotationGraceMs = 24 * 3_600_000;

/** The body of a request: the Standard Webhooks envelope {type, timestamp, data}. */
export function payloadOf(type: string, createdAt: Date, data: unknown): string {
  return JSON.stringify({ type, timestamp: createdAt.toISOString(), data });
}
