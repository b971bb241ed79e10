/**
 * The APNs sender: one push → one HTTP/2 request on a pooled connection, with a cached provider
 * token, resolved to a DeliveryOutcome. Provider errors come back as data, never as exceptions.
 */
import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import type { Share } from '../../domain/process-share.js';
import { createConnectionPool, ConnectionError, RequestRefused, type ConnectionPool, type Http2Answer } from './connection-pool.js';
import { apnsTokenPattern } from '../../domain/push-tokens.js';
import { createProviderTokens, type ProviderToken, type SigningKey } from './provider-token.js';
import { apnsOutcome, parseRetryAfter, reasonsThatRetireTheConnection } from './outcome.js';

export interface ApnsCredentials extends SigningKey {
  /** The app's bundle id. */
  topic: string;
  /** Base URLs per environment: Apple's hosts, or the sandbox's simulator. */
  endpoint: { production: string; sandbox: string };
}

/** One push as the wire needs it (headers per https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns; payload already built and sized). */
export interface ApnsSendRequest {
  token: string;
  environment: 'production' | 'sandbox';
  /** Lowercase UUID; the same on every attempt, so APNs and the device can tell a re-send. */
  apnsId: string;
  collapseId: string;
  priority: 10 | 5;
  pushType: 'alert';
  /** Epoch seconds. */
  expiration: number;
  payload: string;
  /** W3C Trace Context of the call (domain/trace-context.ts). */
  traceparent?: string | undefined;
}

export interface ApnsSenderOptions {
  log: Logger;
  /** The only CA to trust (the sandbox's certificate, for a sender used only for the sandbox); absent: the system's. */
  ca?: string | undefined;
  /** Connections per (team, key, environment). Apple: spread traffic over several (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). */
  maxConnections?: number;
  /** Streams a connection carries before the pool opens another. */
  streamsPerConnection?: number;
  /** This process's share of each account's connections and rate, as worker processes come and go (domain/process-share.ts). */
  share?: Share | undefined;
  /** A push without an answer by then is retried (on another connection if this one is stuck).
   *  APNs answers in milliseconds; 10 s of silence means a stuck connection, not a slow Apple. */
  requestTimeoutMs?: number;
  clock?: () => number;
}

export interface ApnsSender {
  send(creds: ApnsCredentials, req: ApnsSendRequest): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}

export const apnsProductionOrigin = 'https://api.push.apple.com';
export const apnsDevelopmentOrigin = 'https://api.sandbox.push.apple.com';

export function createApnsSender(o: ApnsSenderOptions): ApnsSender {
  const clock = o.clock ?? Date.now;
  const tokens = createProviderTokens(clock);
  const pools = new Map<string, ConnectionPool>();

  const poolFor = (creds: ApnsCredentials, origin: string): ConnectionPool => {
    const key = `${creds.teamId}/${creds.keyId}/${origin}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = createConnectionPool({
        origin, ca: o.ca, log: o.log, maxConnections: o.maxConnections ?? 4, share: o.share,
        streamsPerConnection: o.streamsPerConnection ?? 250, requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
      });
      pools.set(key, pool);
    }
    return pool;
  };

  const reasonOf = (a: Http2Answer): string | undefined => {
    if (a.status === 200 || !a.body.length) return undefined;
    try {
      const r = (JSON.parse(a.body.toString('utf8')) as { reason?: unknown }).reason;
      return typeof r === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  };
  const retireWhen = (a: Http2Answer) => {
    const r = reasonOf(a);
    return r && reasonsThatRetireTheConnection.has(r) ? r : undefined;
  };

  const attempt = async (pool: ConnectionPool, creds: ApnsCredentials, req: ApnsSendRequest, jwt: string) => {
    const answer = await pool.request({
      ':method': 'POST',
      ':path': `/3/device/${req.token}`,
      authorization: `bearer ${jwt}`,
      'apns-topic': creds.topic,
      'apns-push-type': req.pushType,
      'apns-priority': String(req.priority),
      'apns-expiration': String(req.expiration),
      'apns-collapse-id': req.collapseId,
      'apns-id': req.apnsId,
      ...(req.traceparent ? { traceparent: req.traceparent } : {}),
    }, req.payload, retireWhen);
    return { answer, reason: reasonOf(answer) };
  };

  return {
    async send(creds, req) {
      // The token is the request's :path: one stored before tokens were checked is dead here, unsent.
      if (!apnsTokenPattern.test(req.token)) {
        return { kind: 'token_invalid', reason: 'not an APNs device token (64 to 512 hexadecimal digits)', local: true };
      }
      const pool = poolFor(creds, req.environment === 'sandbox' ? creds.endpoint.sandbox : creds.endpoint.production);
      let token: ProviderToken;
      try {
        token = await tokens.get(creds);
      } catch (err) {
        return { kind: 'credentials_invalid', reason: `the APNs key cannot sign: ${(err as Error).message}`, local: true };
      }
      try {
        let { answer, reason } = await attempt(pool, creds, req, token.jwt).catch(async (err: unknown) => {
          // No answer at all (GOAWAY, reset, dropped connection): once more at once on a fresh
          // connection. Same apns-id and collapse id, so a copy APNs did get shows once.
          if (err instanceof ConnectionError && err.retriable) return attempt(pool, creds, req, token.jwt);
          throw err;
        });
        if (reason === 'ExpiredProviderToken') {
          // Apple: "regenerate the JWT and retry once" (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
          token = await tokens.refresh(creds, token);
          ({ answer, reason } = await attempt(pool, creds, req, token.jwt));
        }
        return apnsOutcome(answer.status, reason, parseRetryAfter(answer.headers['retry-after'] as string | undefined, clock()));
      } catch (err) {
        if (err instanceof ConnectionError) return { kind: 'provider_down', reason: err.message };
        if (err instanceof RequestRefused) return { kind: 'rejected', reason: err.message, ...(err.local ? { local: true } : {}) };
        throw err;
      }
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
      pools.clear();
    },
  };
}
