/**
 * The Web Push sender: one push → one encrypted POST to the subscription's endpoint (RFC 8030 §5),
 * signed with the project's cached VAPID token (RFC 8292), resolved to a DeliveryOutcome. Provider
 * errors come back as data, never as exceptions; a push the sender cannot even build (a broken
 * subscription key, an oversized payload, unusable VAPID keys) is an outcome too, with nothing sent.
 */
import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import type { Share } from '../../domain/process-share.js';
import { parseRetryAfter } from '../apns/outcome.js';
import { InvalidSubscriptionKey, encryptPayload, maxPlaintextBytes, type SubscriptionKeys } from './encrypt.js';
import { InvalidVapidCredentials, createVapidTokens, type VapidCredentials } from './vapid.js';
import { reasonOf, webPushOutcome } from './outcome.js';
import { ConnectionError, RequestRefused, createPushTransport, type PushAnswer } from './transport.js';
import { ForbiddenAddress, type OutboundGuard, forbiddenOutcome } from '../outbound-guard.js';

export type { VapidCredentials } from './vapid.js';
export type { SubscriptionKeys } from './encrypt.js';

/** A browser's PushSubscription, as its toJSON() gives it. */
export interface PushSubscription {
  /** The push resource URL (RFC 8030 §4). */
  endpoint: string;
  keys: SubscriptionKeys;
}

/** RFC 8030 §5.3: very-low (on power and Wi-Fi) … high (wake the device now). */
export type Urgency = 'very-low' | 'low' | 'normal' | 'high';
export const urgencies: readonly Urgency[] = ['very-low', 'low', 'normal', 'high'];

export interface WebPushSendRequest {
  subscription: PushSubscription;
  /** What the service worker's push event gets as `event.data`; at most maxPlaintextBytes of UTF-8. */
  payload: string;
  /** How long the push service keeps the message for an offline user agent (RFC 8030 §5.2). 0: now or never. */
  ttlSeconds: number;
  urgency: Urgency;
  /**
   * A pending message with the same topic is replaced (RFC 8030 §5.4): at most 32 characters of the
   * base64url alphabet. Setting it also makes a re-sent copy replace, not duplicate, the first.
   */
  topic?: string | undefined;
}

export interface WebPushSenderOptions {
  log: Logger;
  /** A CA to trust besides the public roots (the sandbox's certificate). */
  ca?: string | undefined;
  /** Connections per push service origin (HTTP/2 connections, or HTTP/1.1 sockets). */
  maxConnectionsPerOrigin?: number;
  /** This process's share of each account's connections and rate, as worker processes come and go (domain/process-share.ts). */
  share?: Share | undefined;
  /** A push without an answer by then counts as a failed connection. */
  requestTimeoutMs?: number;
  /** Refuses endpoints on private networks; every endpoint is reachable without it. */
  guard?: OutboundGuard | undefined;
  clock?: () => number;
}

export interface WebPushSender {
  send(vapid: VapidCredentials, req: WebPushSendRequest): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}

/** RFC 8030 §5.4: "no more than 32 characters from the URL and filename-safe Base64 alphabet". */
const topicPattern = /^[A-Za-z0-9_-]{1,32}$/;
/** TTL is delta-seconds (RFC 8030 §5.2 → RFC 9111 §1.2.2), which recipients read up to 2^31. */
const maxTtlSeconds = 2 ** 31 - 1;

/** A request that is wrong before it is sent: answered without touching the network. */
function checkRequest(req: WebPushSendRequest): DeliveryOutcome | URL {
  let url: URL;
  try {
    url = new URL(req.subscription.endpoint);
  } catch {
    return { kind: 'token_invalid', reason: 'the subscription endpoint is not a URL', local: true };
  }
  // Push resources are HTTPS only (RFC 8030 §8): an http: endpoint can never be sent to.
  if (url.protocol !== 'https:') return { kind: 'token_invalid', reason: 'the subscription endpoint is not https', local: true };
  if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 0 || req.ttlSeconds > maxTtlSeconds) {
    return { kind: 'rejected', reason: `TTL must be a whole number of seconds from 0 to ${maxTtlSeconds}`, local: true };
  }
  if (!urgencies.includes(req.urgency)) return { kind: 'rejected', reason: `Urgency must be one of ${urgencies.join(', ')}`, local: true };
  if (req.topic !== undefined && !topicPattern.test(req.topic)) {
    return { kind: 'rejected', reason: 'Topic must be 1 to 32 characters of the base64url alphabet', local: true };
  }
  return url;
}

export function createWebPushSender(o: WebPushSenderOptions): WebPushSender {
  const clock = o.clock ?? Date.now;
  const vapid = createVapidTokens(clock);
  const transport = createPushTransport({
    log: o.log,
    ca: o.ca,
    // A few connections per origin: one origin (fcm.googleapis.com) carries most subscriptions.
    maxConnectionsPerOrigin: o.maxConnectionsPerOrigin ?? 4,
    share: o.share,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
    guard: o.guard,
  });

  return {
    async send(creds, req) {
      const url = checkRequest(req);
      if (!(url instanceof URL)) return url;

      let body: Buffer;
      try {
        body = encryptPayload(req.subscription.keys, req.payload);
      } catch (err) {
        // A key no message can be encrypted to: the subscription is broken for good.
        if (err instanceof InvalidSubscriptionKey) return { kind: 'token_invalid', reason: err.message, local: true };
        if (err instanceof RangeError) return { kind: 'rejected', reason: `payload over ${maxPlaintextBytes} bytes: ${err.message}`, local: true };
        throw err;
      }

      let authorization: string;
      try {
        authorization = (await vapid.get(creds, url.origin)).authorization;
      } catch (err) {
        if (err instanceof InvalidVapidCredentials) return { kind: 'credentials_invalid', reason: err.message, local: true };
        throw err;
      }

      const headers: Record<string, string> = {
        authorization,
        // TTL is required: "A push service MUST return a 400 … to requests that omit" it (RFC 8030 §5.2).
        ttl: String(req.ttlSeconds),
        urgency: req.urgency,
        'content-encoding': 'aes128gcm',
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      };
      if (req.topic !== undefined) headers.topic = req.topic;

      let answer: PushAnswer;
      try {
        answer = await transport.post(url, headers, body).catch((err: unknown) => {
          // No answer at all (GOAWAY, reset, dropped connection): once more at once on a fresh
          // connection, as the APNs client does. A copy the push service did get is replaced by
          // this one when the push has a Topic (RFC 8030 §5.4).
          if (err instanceof ConnectionError && err.retriable) return transport.post(url, headers, body);
          throw err;
        });
      } catch (err) {
        // This subscription's own fault, refused before connecting: the push service is not down.
        if (err instanceof ForbiddenAddress) return forbiddenOutcome(err);
        if (err instanceof ConnectionError) return { kind: 'provider_down', reason: err.message };
        if (err instanceof RequestRefused) return { kind: 'rejected', reason: err.message, ...(err.local ? { local: true as const } : {}) };
        throw err;
      }
      const header = (name: string) => {
        const v = answer.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      return webPushOutcome(
        answer.status,
        answer.status >= 300 ? reasonOf(answer.body) : undefined,
        header('location'),
        parseRetryAfter(header('retry-after'), clock()),
      );
    },
    close: () => transport.close(),
  };
}
