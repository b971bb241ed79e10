/**
 * The FCM sender: one message → one HTTP v1 request (https://firebase.google.com/docs/cloud-messaging/send/v1-api) on a
 * pooled HTTP/2 connection, with the service account's cached access token, resolved to a
 * DeliveryOutcome. Provider errors come back as data, never as exceptions.
 *
 * firebase-admin's weakness (firebase/firebase-admin-node#2943): one HTTP/2 session of about 100 streams, GOAWAY past it. Here
 * sends spread over several long-lived connections (the APNs pool, generic over its origin), each
 * used up to the stream limit its peer advertises, so thousands can be in flight.
 */
import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import type { Share } from '../../domain/process-share.js';
import { createConnectionPool, ConnectionError, RequestRefused, type ConnectionPool, type Http2Answer } from '../apns/connection-pool.js';
import { parseRetryAfter } from '../apns/outcome.js';
import { forbiddenOutcome, type OutboundGuard } from '../outbound-guard.js';
import { AccessTokenError, createAccessTokens, type AccessToken, type FcmServiceAccount } from './access-token.js';
import { fcmOutcome, minQuotaRetryMs, needsFreshAccessToken, quotaScope, readFcmAnswer, type FcmAnswer } from './outcome.js';
import { createProjectThrottle, defaultMessagesPerMinute, type ProjectThrottle } from '../../domain/provider-throttle.js';

export type { FcmServiceAccount } from './access-token.js';

/** Google's FCM host (https://firebase.google.com/docs/cloud-messaging/send/v1-api). */
export const fcmOrigin = 'https://fcm.googleapis.com';

/** Where a project's messages go: Google's host unless `endpoint` names another (the sandbox's simulator). */
export type FcmAccount = FcmServiceAccount & { endpoint?: string | undefined };

/** One message as the wire needs it: the `{"message": {...}}` body from domain/fcm-message.ts, already sized. */
export interface FcmSendRequest {
  body: string;
  /** W3C Trace Context of the call (domain/trace-context.ts). */
  traceparent?: string | undefined;
}

export interface FcmSenderOptions {
  log: Logger;
  /** A CA to trust (the sandbox's certificate) for sends and token grants; absent for Google. */
  ca?: string | undefined;
  /** Connections per endpoint. Google's front end allows about 100 streams on each (firebase/firebase-admin-node#2943). */
  maxConnections?: number | undefined;
  /** Streams a connection carries before the pool opens another. */
  streamsPerConnection?: number | undefined;
  /** A send without an answer by then counts as a lost connection (retried once, then provider_down). */
  requestTimeoutMs?: number | undefined;
  /** Per-project client-side rate: FCM's default quota unless the project has a raised one (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas). */
  messagesPerMinute?: number | undefined;
  /** Messages a project may send at once after a quiet spell (default: one second of its rate). */
  burst?: number | undefined;
  /** A send the rate limit would hold longer than this goes back to the queue as a retry instead. */
  maxThrottleWaitMs?: number | undefined;
  /** This process's share of each account's connections and rate, as worker processes come and go (domain/process-share.ts). */
  share?: Share | undefined;
  /** Refuses token_uri hosts on private networks (a service account's token_uri is the tenant's to set). */
  guard?: OutboundGuard | undefined;
  clock?: (() => number) | undefined;
}

export interface FcmSender {
  send(account: FcmAccount, req: FcmSendRequest): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}

/**
 * 8 × 100 streams: eight times what one firebase-admin session carries, and FCM's per-project quota
 * (10,000 messages/s) at ~80 ms per answer needs about 800 in flight.
 */
const defaultMaxConnections = 8;
const defaultStreamsPerConnection = 100;

export function createFcmSender(o: FcmSenderOptions): FcmSender {
  const clock = o.clock ?? Date.now;
  const requestTimeoutMs = o.requestTimeoutMs ?? 30_000;
  const tokens = createAccessTokens({ clock, ca: o.ca, timeoutMs: requestTimeoutMs, guard: o.guard });
  const pools = new Map<string, ConnectionPool>();
  const throttles = new Map<string, ProjectThrottle>();

  // One pool per origin, shared by every project: unlike APNs (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns), an FCM connection is not bound
  // to a credential; each request carries its own bearer token.
  const poolFor = (origin: string): ConnectionPool => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = createConnectionPool({
        origin, ca: o.ca, log: o.log, maxConnections: o.maxConnections ?? defaultMaxConnections, share: o.share,
        streamsPerConnection: o.streamsPerConnection ?? defaultStreamsPerConnection, requestTimeoutMs,
      });
      pools.set(origin, pool);
    }
    return pool;
  };

  const throttleFor = (projectId: string): ProjectThrottle => {
    let t = throttles.get(projectId);
    if (!t) {
      t = createProjectThrottle({
        messagesPerMinute: o.messagesPerMinute ?? defaultMessagesPerMinute, burst: o.burst, maxWaitMs: o.maxThrottleWaitMs ?? 5_000, share: o.share,
      });
      throttles.set(projectId, t);
    }
    return t;
  };

  // An overloaded front end (503) may be one machine: the next sends go over a fresh connection.
  const retireWhen = (a: Http2Answer) => (a.status === 503 ? 'UNAVAILABLE' : undefined);

  const attempt = async (pool: ConnectionPool, account: FcmAccount, req: FcmSendRequest, token: AccessToken) => {
    const answer = await pool.request({
      ':method': 'POST',
      ':path': `/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`,
      authorization: `Bearer ${token.token}`,
      'content-type': 'application/json',
      ...(req.traceparent ? { traceparent: req.traceparent } : {}),
    }, req.body, retireWhen);
    return { fcm: readFcmAnswer(answer.status, answer.body), retryAfter: answer.headers['retry-after'] as string | undefined };
  };

  /** Once more at once on a fresh connection when the first got no answer (GOAWAY, reset, drop). */
  const attemptTwice = (pool: ConnectionPool, account: FcmAccount, req: FcmSendRequest, token: AccessToken) =>
    attempt(pool, account, req, token).catch((err: unknown) => {
      if (err instanceof ConnectionError && err.retriable) return attempt(pool, account, req, token);
      throw err;
    });

  const tokenProblem = (err: unknown): DeliveryOutcome => {
    if (!(err instanceof AccessTokenError)) throw err;
    if (err.kind === 'credentials') return { kind: 'credentials_invalid', reason: `OAuth2 access token: ${err.message}`, status: err.status };
    if (err.kind === 'forbidden') return forbiddenOutcome(err);
    return { kind: 'provider_down', reason: `OAuth2 access token: ${err.message}`, status: err.status, retryAfterMs: err.retryAfterMs };
  };

  return {
    async send(account, req) {
      const throttle = throttleFor(account.project_id);
      const admission = throttle.admit(clock());
      if (admission.kind === 'hold') {
        return {
          kind: 'retry',
          reason: admission.paused ? 'QUOTA_EXCEEDED: the project is paused after a 429' : 'client-side rate limit of the project',
          retryAfterMs: admission.retryAfterMs,
        };
      }
      if (admission.waitMs > 0) await new Promise((r) => setTimeout(r, admission.waitMs));

      const pool = poolFor(account.endpoint ?? fcmOrigin);
      let token: AccessToken;
      try {
        token = await tokens.get(account);
      } catch (err) {
        return tokenProblem(err);
      }
      let fcm: FcmAnswer;
      let retryAfter: string | undefined;
      try {
        ({ fcm, retryAfter } = await attemptTwice(pool, account, req, token));
        if (needsFreshAccessToken(fcm)) {
          // 401 UNAUTHENTICATED: the token expired or was revoked early; one new grant, one retry (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode, UNAUTHENTICATED).
          try {
            token = await tokens.refresh(account, token);
          } catch (err) {
            return tokenProblem(err);
          }
          ({ fcm, retryAfter } = await attemptTwice(pool, account, req, token));
        }
      } catch (err) {
        if (err instanceof ConnectionError) return { kind: 'provider_down', reason: err.message };
        if (err instanceof RequestRefused) return { kind: 'rejected', reason: err.message, ...(err.local ? { local: true } : {}) };
        throw err;
      }
      const retryAfterMs = parseRetryAfter(retryAfter, clock());
      if (quotaScope(fcm) === 'project') {
        // The project's quota is spent: every send of the project waits, not only this one (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas).
        const pauseMs = retryAfterMs ?? minQuotaRetryMs;
        if (throttle.slowDown(clock(), pauseMs)) {
          o.log.warn({ projectId: account.project_id, pauseMs, rate: throttle.rateAt(clock() + pauseMs) }, 'FCM quota exceeded: project slowed down');
        }
      }
      return fcmOutcome(fcm, retryAfterMs);
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
      pools.clear();
    },
  };
}
