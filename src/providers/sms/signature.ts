/**
 * Twilio's request signature, `X-Twilio-Signature` (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64 of
 * HMAC-SHA1, keyed with the account's auth token, over the full URL exactly as called followed by
 * every POST parameter's name and value, sorted by name. Twilio signs its webhooks (status
 * callbacks, inbound messages) this way; Herald verifies them, and the sandbox signs its own.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Form parameters as pairs, so repeated names (MediaUrl0… are distinct, but a client may repeat) survive. */
export type FormParams = Iterable<readonly [string, string]> | Record<string, string>;

function pairsOf(params: FormParams): [string, string][] {
  const pairs: [string, string][] = [];
  const source = Symbol.iterator in params ? (params as Iterable<readonly [string, string]>) : Object.entries(params);
  for (const [name, value] of source) pairs.push([name, value]);
  // By name, then by value for a repeated name, as twilio-node's validateRequest sorts them.
  // Code-unit order, which is what Twilio's libraries use (Array.prototype.sort, Java's String order).
  return pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
}

/** The signature Twilio would send for a POST of `params` to `url`. */
export function twilioSignature(authToken: string, url: string, params: FormParams): string {
  const hmac = createHmac('sha1', authToken).update(url, 'utf8');
  for (const [name, value] of pairsOf(params)) hmac.update(name + value, 'utf8');
  return hmac.digest('base64');
}

/**
 * Whether `signature` is Twilio's for this request. Compared in constant time. Twilio has signed
 * some URLs with the default port written out and some without (twilio-node's validateRequest tries
 * both), so both spellings of `url` are accepted.
 */
export function verifyTwilioSignature(authToken: string, signature: string | undefined, url: string, params: FormParams): boolean {
  if (!signature || authToken === '') return false;
  const given = Buffer.from(signature, 'utf8');
  const pairs = pairsOf(params);
  let ok = false;
  for (const candidate of urlSpellings(url)) {
    const expected = Buffer.from(twilioSignature(authToken, candidate, pairs), 'utf8');
    // Every spelling is compared, so the time taken does not tell which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

/** The URL as given, and the same with its default port added or removed. */
function urlSpellings(url: string): string[] {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return [url];
  }
  const defaultPort = u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : undefined;
  if (!defaultPort) return [url];
  // new URL() drops a default port, so `u` prints without it; with it is built by hand.
  const without = u.toString();
  const withPort = `${u.protocol}//${u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''}${u.hostname}:${defaultPort}${u.pathname}${u.search}${u.hash}`;
  const hasExplicitPort = u.port !== '';
  return [...new Set([url, hasExplicitPort ? url : without, withPort, without])];
}
