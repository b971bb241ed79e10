/**
 * The Web Push simulator's request checks, in the order it applies them: the request line, the RFC 8030 headers,
 * then the body's aes128gcm framing (RFC 8188 §2.1 as restricted by RFC 8291 §4). VAPID lives in
 * webpush-auth.ts. Pure functions over what the HTTP/2 layer received: cheap, and testable alone.
 */
import type { IncomingHttpHeaders } from 'node:http2';

/** A refusal: the status and the text of the plain-text body a push service answers with. */
export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

const refuse = (status: number, reason: string): Refusal => Object.freeze({ status, reason });

export const refusals = {
  methodNotAllowed: refuse(405, 'method not allowed: push with POST'),
  notFound: refuse(404, 'no push subscription at this path'),
  // RFC 8030 §5.2: "A push service MUST return a 400 … to requests that omit the TTL header field."
  missingTtl: refuse(400, 'TTL header is missing'),
  badTtl: refuse(400, 'TTL header must be a number of seconds'),
  // RFC 8030 §5.3: one of four values; several values give 400.
  badUrgency: refuse(400, 'Urgency header must be one of very-low, low, normal, high'),
  // RFC 8030 §5.4: "no more than 32 characters from the URL and filename-safe Base64 alphabet".
  badTopic: refuse(400, 'Topic header must be at most 32 characters of the base64url alphabet'),
  duplicateHeader: refuse(400, 'a header field is repeated'),
  // RFC 8291 §4 allows only aes128gcm, without other codings stacked on it.
  badContentEncoding: refuse(400, 'Content-Encoding must be aes128gcm'),
  missingContentEncoding: refuse(400, 'a push with a body needs Content-Encoding: aes128gcm'),
  truncatedHeader: refuse(400, 'the body is shorter than its aes128gcm header'),
  badIdlen: refuse(400, 'aes128gcm header: idlen must be 65 (RFC 8291 §4)'),
  badRecordSize: refuse(400, 'aes128gcm header: rs must be at least 18'),
  badKeyid: refuse(400, 'aes128gcm header: keyid must be an uncompressed P-256 point'),
  emptyRecord: refuse(400, 'the record is too short to hold a padding delimiter and a tag'),
  severalRecords: refuse(400, 'the body holds more than one record (RFC 8291 §4 allows one)'),
  // "Push services MUST NOT return a 413 … to an entity body that is 4096 bytes or less" (RFC 8030 §7.2).
  payloadTooLarge: refuse(413, 'payload too large: at most 4096 bytes'),
} as const;

export const pushPathPrefix = '/push/';
/** The subscription ids the simulator serves: any run of URL-safe (unreserved, RFC 3986 §2.3) characters. */
const subscriptionId = /^[A-Za-z0-9._~-]+$/;

/** The subscription id of `/push/{id}`, or '' when the path names none. */
export function targetOf(path: string): string {
  return path.startsWith(pushPathPrefix) ? path.slice(pushPathPrefix.length) : '';
}

export function checkRequestLine(method: string | undefined, path: string | undefined): Refusal | undefined {
  if (method !== 'POST') return refusals.methodNotAllowed;
  if (path === undefined || !path.startsWith(pushPathPrefix) || !subscriptionId.test(path.slice(pushPathPrefix.length))) {
    return refusals.notFound;
  }
  return undefined;
}

/** Fields whose repetition the simulator refuses: each carries one value (RFC 8030 §5.2–5.4, RFC 8292 §3). */
const singleValued = new Set(['ttl', 'urgency', 'topic', 'content-encoding', 'authorization']);

/** The raw header list (name, value, …) has one of the single-valued fields twice. */
export function hasDuplicateHeader(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!singleValued.has(rawHeaders[i]!)) continue;
    for (let j = i + 2; j < rawHeaders.length; j += 2) {
      if (rawHeaders[i] === rawHeaders[j]) return true;
    }
  }
  return false;
}

const urgencies = new Set(['very-low', 'low', 'normal', 'high']);
const topicPattern = /^[A-Za-z0-9_-]{1,32}$/;
/** TTL = 1*DIGIT (RFC 8030 §5.2); ten digits reach past what any push service keeps. */
const ttlPattern = /^\d{1,10}$/;

/** The longest the simulator says it keeps a message: 4 weeks, web-push's default TTL (https://github.com/web-push-libs/web-push) and FCM's ceiling. */
export const maxTtlSeconds = 2_419_200;

const one = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return typeof v === 'string' ? v : v?.[0];
};

/**
 * TTL, Urgency and Topic (RFC 8030 §5.2–5.4). Answers the refusal, or the TTL the simulator keeps
 * the message for (the requested one, capped: RFC 8030 §5.2 lets a push service retain it for less and say so
 * in the answer's TTL header).
 */
export function checkPushHeaders(headers: IncomingHttpHeaders): Refusal | number {
  const ttl = one(headers, 'ttl');
  if (ttl === undefined) return refusals.missingTtl;
  if (!ttlPattern.test(ttl)) return refusals.badTtl;
  const urgency = one(headers, 'urgency');
  if (urgency !== undefined && !urgencies.has(urgency)) return refusals.badUrgency;
  const topic = one(headers, 'topic');
  if (topic !== undefined && !topicPattern.test(topic)) return refusals.badTopic;
  return Math.min(Number(ttl), maxTtlSeconds);
}

export const maxBodyBytes = 4096;
const headerBytes = 86;
const tagBytes = 16;

/**
 * Content-Encoding and the body (RFC 8291 §4, RFC 8188 §2.1): a body of at most 4096 bytes whose
 * header has a 16-byte salt, rs ≥ 18, idlen 65 and a keyid on P-256, followed by one record of at
 * least a delimiter and a tag. Answers the refusal, the keyid (the sender's ephemeral key), or null
 * for a push without payload, which RFC 8030 §5 allows and which then carries no Content-Encoding.
 *
 * The padding delimiter (0x02) cannot be checked here: only the subscriber's private key decrypts
 * the record, and the sandbox never holds it. Tests decrypt recorded bodies to check it.
 * `size` is the byte count received, which may exceed what was kept of `body`.
 */
export function checkBody(headers: IncomingHttpHeaders, body: Buffer, size: number): Refusal | Buffer | null {
  if (size > maxBodyBytes) return refusals.payloadTooLarge;
  const encoding = one(headers, 'content-encoding');
  if (encoding === undefined) return size === 0 ? null : refusals.missingContentEncoding;
  // Content codings are case-insensitive (RFC 9110 §8.4.1); anything else, a list included, is refused.
  if (encoding.toLowerCase() !== 'aes128gcm') return refusals.badContentEncoding;
  if (size < 21) return refusals.truncatedHeader;
  const idlen = body[20]!;
  if (idlen !== 65) return refusals.badIdlen;
  if (size < headerBytes) return refusals.truncatedHeader;
  const rs = body.readUInt32BE(16);
  if (rs < 18) return refusals.badRecordSize;
  const keyid = body.subarray(21, headerBytes);
  if (!isP256Point(keyid)) return refusals.badKeyid;
  const record = size - headerBytes;
  if (record <= tagBytes) return refusals.emptyRecord;
  // A record is at most rs bytes, and only the last one may be shorter (RFC 8188 §2): a longer
  // body holds several records, which RFC 8291 §4 forbids.
  if (record > rs) return refusals.severalRecords;
  return keyid;
}

/** P-256's field prime and curve constant b; a = −3 (SEC 2 §2.4.2, FIPS 186-4 §D.1.2.3). */
const p256Prime = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const p256B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/**
 * An uncompressed point (0x04 ‖ X ‖ Y) on P-256: coordinates below p and y² = x³ − 3x + b (mod p).
 * P-256 has cofactor 1, so that is all a valid public key needs. Checked with BigInt arithmetic
 * (about 1 µs) rather than by importing the key with node:crypto (about 14 µs): the simulator does
 * it for every push, since each message has its own ephemeral key (RFC 8291 §3.1).
 */
export function isP256Point(key: Buffer): boolean {
  if (key.length !== 65 || key[0] !== 0x04) return false;
  const x = BigInt('0x' + key.toString('hex', 1, 33));
  const y = BigInt('0x' + key.toString('hex', 33, 65));
  if (x >= p256Prime || y >= p256Prime) return false;
  return (y * y - (((x * x) % p256Prime) * x - 3n * x + p256B)) % p256Prime === 0n;
}
