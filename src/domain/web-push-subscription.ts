/**
 * A browser's PushSubscription as its toJSON() gives it: the push resource URL and the keys a
 * message is encrypted to (RFC 8030 §4, RFC 8291 §3). Checked when registered, so a subscription
 * that no message could ever be encrypted to is refused at the door, not at every send.
 */
import { ECDH } from 'node:crypto';
import { noPrivateNetworks, portOfUrl, refusalOfHost, type PrivateNetworkAllowance } from './network-address.js';

export interface WebPushSubscription {
  endpoint: string;
  /** Milliseconds since the epoch when the browser will drop it; null for most browsers. */
  expirationTime?: number | null | undefined;
  keys: { p256dh: string; auth: string };
}

export class InvalidWebPushSubscription extends Error {}

/** Unpadded base64url, as browsers write it; padded is accepted too. */
const base64url = /^[A-Za-z0-9_-]+={0,2}$/;

function bytesOf(text: string, what: string): Buffer {
  if (!base64url.test(text)) throw new InvalidWebPushSubscription(`${what} is not base64url`);
  return Buffer.from(text.replace(/=+$/, ''), 'base64url');
}

/**
 * The subscription, normalised (unpadded keys), or InvalidWebPushSubscription naming the field.
 * The endpoint comes from whoever holds the public SDK key: one naming a private address (this
 * machine, the private network, the metadata service) is refused unless `privateNetworks` allows it.
 */
export function checkWebPushSubscription(s: WebPushSubscription,
  privateNetworks: PrivateNetworkAllowance = noPrivateNetworks): WebPushSubscription {
  let url: URL;
  try {
    url = new URL(s.endpoint);
  } catch {
    throw new InvalidWebPushSubscription('web_push_subscription.endpoint is not a URL');
  }
  // Push services are https (RFC 8030 §8): the sender never posts to anything else.
  if (url.protocol !== 'https:') throw new InvalidWebPushSubscription('web_push_subscription.endpoint must be an https URL');
  const refusal = refusalOfHost(privateNetworks, url.hostname, portOfUrl(url));
  if (refusal) throw new InvalidWebPushSubscription(`web_push_subscription.endpoint: ${refusal}`);
  const p256dh = bytesOf(s.keys.p256dh, 'web_push_subscription.keys.p256dh');
  if (p256dh.length !== 65 || p256dh[0] !== 0x04) {
    throw new InvalidWebPushSubscription('web_push_subscription.keys.p256dh is not a 65-byte uncompressed P-256 point (RFC 8291 §3.1)');
  }
  try {
    ECDH.convertKey(p256dh, 'prime256v1'); // throws for a point that is not on the curve
  } catch {
    throw new InvalidWebPushSubscription('web_push_subscription.keys.p256dh is not a point on the P-256 curve');
  }
  const auth = bytesOf(s.keys.auth, 'web_push_subscription.keys.auth');
  if (auth.length !== 16) throw new InvalidWebPushSubscription('web_push_subscription.keys.auth is not a 16-byte secret (RFC 8291 §3.2)');
  return {
    endpoint: s.endpoint,
    ...(s.expirationTime !== undefined ? { expirationTime: s.expirationTime } : {}),
    keys: { p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url') },
  };
}
