/**
 * The FCM simulator: FCM HTTP v1 and Google's OAuth token endpoint in one TLS server, answering as
 * Google does (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages,
 * https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). It issues a
 * service account at start; every send is recorded (records.ts, target = the registration token)
 * and may be made to fail on purpose by a fault rule (faults.ts), as in the APNs simulator.
 *
 * HTTP/2 is the fast path and is handled on the raw stream API as in apns.ts: a send does no async
 * work beyond reading its body (the bearer token is one map lookup, fcm-auth.ts) and nothing is
 * logged per request. HTTP/1.1 is accepted too, as Google accepts it: Google's auth libraries fetch
 * tokens that way, and firebase-admin can send that way (`enableLegacyHttpTransport`, firebase/firebase-admin-node#2550).
 */
import http2, { type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { checkSendBody, errorBody, faultRefusal, permissionDenied, quotaExceeded, reasonOf, refusals, sendProjectOf, type FcmRefusal } from './fcm-checks.js';
import { createAccessTokenIssuer, createFcmSigningKey, issueFcmServiceAccount, type AccessTokenIssuer, type FcmServiceAccountJson } from './fcm-auth.js';
import { urlHost } from './apns.js';
import type { DeliveryRecord } from './records.js';
import type { FaultRule } from './faults.js';
import { listenOnFreePort, maxKeptBodyBytes, onHttp1Requests, onHttp2Streams, readBody, type SimulatorContext } from './request-io.js';

export type { FcmServiceAccountJson } from './fcm-auth.js';

export interface FcmSimulatorOptions extends SimulatorContext {
  /** The project's quota (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas): 600,000 messages a minute unless a test wants to reach it. */
  messagesPerMinute?: number | undefined;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection (see defaultMaxConcurrentStreams). */
  maxConcurrentStreams?: number | undefined;
}

export interface FcmSimulator {
  /** Base URL a client connects to, e.g. https://127.0.0.1:40112. */
  url: string;
  /** The account the simulator accepts; its token_uri is `${url}/oauth2/token`. */
  serviceAccount: FcmServiceAccountJson;
  /** HTTP/2 connections accepted since start (tests check that sends spread over several). */
  readonly connectionsAccepted: number;
  close(): Promise<void>;
}

/** FCM's default quota (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas). */
export const defaultMessagesPerMinute = 600_000;
/**
 * Google's front end allows about 100 streams per connection: firebase-admin's single session hits
 * GOAWAY past ~100 concurrent sends (firebase/firebase-admin-node#2943). The exact figure is not verified against the live service.
 */
export const defaultMaxConcurrentStreams = 100;
/** The token endpoint's path; the account's token_uri points here. */
export const tokenPath = '/oauth2/token';
/** The reason a dropped request is listed with (it got no answer, so Google has no word for it). */
export const droppedReason = 'ConnectionDropped';

/** How an answer goes back, whichever HTTP version carried the request. */
interface Reply {
  send(status: number, body: string, retryAfterS?: number | null): void;
  /** Drops the whole connection without answering (a drop_connection fault). */
  drop(): void;
}

/** One request as both transports hand it over. */
interface Exchange {
  method: string | undefined;
  path: string | undefined;
  authorization: string | undefined;
  rawHeaders: string[];
  receivedAtMs: number;
  body: Buffer;
  size: number;
}

export async function startFcmSimulator(o: FcmSimulatorOptions): Promise<FcmSimulator> {
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const delayed = new Set<NodeJS.Timeout>();
  let connectionsAccepted = 0;
  // Message ids look like Google's "0:1500415314455276%31bd1c9631bd1c96": 16 digits of a counter
  // (unique even under a test's frozen clock) and a suffix per simulator.
  const idSuffix = randomBytes(8).toString('hex');
  let messageSeq = 0;

  // The account names the token URL, known only once the server listens; the key is made before.
  // A request that could arrive in between is answered 503 (see route).
  const key = await createFcmSigningKey();
  let issuer: AccessTokenIssuer | undefined;
  let serviceAccount: FcmServiceAccountJson | undefined;
  const quota = createQuotaBucket(o.messagesPerMinute ?? defaultMessagesPerMinute);

  const server = http2.createSecureServer({
    key: o.tls.keyPem,
    cert: o.tls.certPem,
    allowHTTP1: true,
    minVersion: 'TLSv1.2',
    settings: { maxConcurrentStreams: o.maxConcurrentStreams ?? defaultMaxConcurrentStreams, enablePush: false },
    // As in apns.ts: Node's default can refuse streams with ENHANCE_YOUR_CALM under benchmark load.
    maxSessionMemory: 64,
  });

  const answer = (reply: Reply, record: DeliveryRecord, status: number, reason: string | null, body: string, retryAfterS: number | null = null) => {
    record.status = status;
    record.reason = reason;
    reply.send(status, body, retryAfterS);
  };
  const refuse = (reply: Reply, record: DeliveryRecord, r: FcmRefusal, retryAfterS: number | null = null) =>
    answer(reply, record, r.status, reasonOf(r), errorBody(r), retryAfterS);
  const accept = (reply: Reply, record: DeliveryRecord, projectId: string, validateOnly: boolean) => {
    // validate_only: checked but not sent; Google answers a fixed fake id (not verified against the live service).
    const id = validateOnly ? 'fake_message_id' : `0:${String(messageSeq++).padStart(16, '0')}%${idSuffix}`;
    answer(reply, record, 200, validateOnly ? 'validate_only' : null, JSON.stringify({ name: `projects/${projectId}/messages/${id}` }));
  };

  const applyFault = (reply: Reply, record: DeliveryRecord, projectId: string, validateOnly: boolean, rule: FaultRule) => {
    if (rule.drop_connection) {
      record.status = null;
      record.reason = droppedReason;
      reply.drop();
    } else if (rule.status !== null) {
      refuse(reply, record, faultRefusal(rule.status, rule.reason), rule.retry_after_s);
    } else {
      accept(reply, record, projectId, validateOnly); // a latency-only rule: delayed, then accepted
    }
  };

  /** POST /v1/projects/{id}/messages:send, the checklist in order: auth, project, quota, message, faults. */
  const onSend = (ex: Exchange, reply: Reply, projectId: string | undefined) => {
    // A body past what is kept is not parsed (it is cut short): refused for size, after auth and quota.
    const checked = projectId === undefined ? undefined
      : ex.size > maxKeptBodyBytes ? { target: '', validateOnly: false, refusal: refusals.bodyTooLarge } : checkSendBody(ex.body);
    const record = o.records.open('fcm', ex.receivedAtMs, checked?.target ?? '', ex.rawHeaders);
    record.body = ex.body;
    if (projectId === undefined || checked === undefined) return refuse(reply, record, refusals.notFound);
    const denied = issuer!.check(ex.authorization);
    if (denied) return refuse(reply, record, denied);
    if (projectId !== serviceAccount!.project_id) return refuse(reply, record, permissionDenied(projectId));
    // The project's bucket counts every message it answers, 4xx included, except the 429s (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas).
    const waitS = quota.take(o.clock());
    if (waitS !== undefined) return refuse(reply, record, quotaExceeded(projectId), waitS);
    if (checked.refusal) return refuse(reply, record, checked.refusal);
    const rule = o.faults.match('fcm', record.target);
    if (!rule) return accept(reply, record, projectId, checked.validateOnly);
    if (rule.latency_ms === 0) return applyFault(reply, record, projectId, checked.validateOnly, rule);
    const timer = setTimeout(() => {
      delayed.delete(timer);
      applyFault(reply, record, projectId, checked.validateOnly, rule);
    }, rule.latency_ms);
    delayed.add(timer);
  };

  /** POST /oauth2/token: not a delivery, so not recorded. */
  const onToken = (ex: Exchange, reply: Reply) => {
    if (ex.method !== 'POST') {
      reply.send(405, JSON.stringify({ error: 'invalid_request', error_description: 'The token endpoint takes POST only.' }));
      return;
    }
    issuer!.grant(ex.body.toString('utf8')).then(
      (g) => reply.send(g.status, JSON.stringify(g.body)),
      (err: unknown) => {
        o.log.error({ err }, 'FCM simulator: token grant failed'); // a bug: grant() answers every expected failure
        reply.send(500, JSON.stringify({ error: 'internal_failure' }));
      },
    );
  };

  const route = (ex: Exchange, reply: Reply) => {
    if (!issuer) return reply.send(503, errorBody(faultRefusal(503, 'UNAVAILABLE')));
    const path = ex.path?.split('?')[0];
    if (path === tokenPath) return onToken(ex, reply);
    onSend(ex, reply, sendProjectOf(ex.method, path));
  };

  onHttp2Streams<Http2Session>(server, {
    name: 'FCM', log: o.log, sessions,
    connection: (session) => {
      connectionsAccepted++;
      return session;
    },
    onStream: (session, stream, headers, rawHeaders) => {
      const receivedAtMs = o.clock();
      readBody(stream, (body, size) => {
        const auth = headers.authorization;
        route({ method: headers[':method'], path: headers[':path'], authorization: auth, rawHeaders, receivedAtMs, body, size }, {
          send(status, text, retryAfterS) {
            if (stream.destroyed || stream.closed) return; // the client gave up; the record still shows the verdict
            const h: Record<string, string | number> = { ':status': status, 'content-type': 'application/json; charset=UTF-8' };
            if (retryAfterS !== undefined && retryAfterS !== null) h['retry-after'] = retryAfterS;
            stream.respond(h);
            stream.end(text);
          },
          drop: () => session.destroy(),
        });
      });
    },
  });

  onHttp1Requests(server, {
    sockets,
    onRequest: (req, res, rawHeaders) => {
      const receivedAtMs = o.clock();
      readBody(req, (body, size) => {
        route({ method: req.method, path: req.url, authorization: req.headers.authorization, rawHeaders, receivedAtMs, body, size }, {
          send(status, text, retryAfterS) {
            if (res.destroyed || res.writableEnded) return;
            const h: Record<string, string | number> = { 'content-type': 'application/json; charset=UTF-8' };
            if (retryAfterS !== undefined && retryAfterS !== null) h['retry-after'] = retryAfterS;
            res.writeHead(status, h);
            res.end(text);
          },
          drop: () => req.socket.destroy(),
        });
      });
    },
  });

  const port = await listenOnFreePort(server, o.host);
  const url = `https://${urlHost(o.host)}:${port}`;
  const account = issueFcmServiceAccount(key, url + tokenPath);
  serviceAccount = account.serviceAccount;
  issuer = createAccessTokenIssuer({ account, clock: o.clock });

  return {
    url,
    serviceAccount,
    get connectionsAccepted() {
      return connectionsAccepted;
    },
    close: async () => {
      for (const t of delayed) clearTimeout(t);
      delayed.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * The project's quota: a token bucket of `perMinute` refilled continuously (the minutes are "not
 * clock-aligned", https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas). Answers undefined when a message may pass (and counts it), else the seconds
 * until the next token, sent as Retry-After.
 */
export function createQuotaBucket(perMinute: number) {
  const perMs = perMinute / 60_000;
  let tokens = perMinute;
  let updatedAt: number | undefined;
  return {
    take(now: number): number | undefined {
      if (updatedAt !== undefined && now > updatedAt) tokens = Math.min(perMinute, tokens + (now - updatedAt) * perMs);
      if (updatedAt === undefined || now > updatedAt) updatedAt = now;
      if (tokens < 1) return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
      tokens -= 1;
      return undefined;
    },
  };
}

