/**
 * The Web Push simulator: a push service over HTTP/2 and TLS, answering as RFC 8030 asks and
 * checking as strictly as the real services do (RFC 8030 §5, RFC 8291,
 * RFC 8292). A push goes to `POST /push/{subscription-id}` for any URL-safe id: a test
 * makes up a subscription by picking an id and generating its own P-256 key pair and auth secret
 * (docs/sandbox.md). Every request is recorded (records.ts), its encrypted body raw,
 * and may be made to fail on purpose by a fault rule (faults.ts).
 *
 * Built for load, like apns.ts: a request does no async work beyond reading its body, the VAPID
 * signature of a token is verified once (webpush-auth.ts), and nothing is logged per request.
 *
 * HTTP/2 is the fast path, on the raw stream API. HTTP/1.1 is accepted too, as FCM's, Mozilla's and
 * Apple's push services accept it: the `web-push` package, the library most servers use, speaks
 * nothing else (web-push-libs/web-push src/web-push-lib.js: one https.request per send).
 */
import http2, { type IncomingHttpHeaders, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { checkBody, checkPushHeaders, checkRequestLine, hasDuplicateHeader, refusals, targetOf, type Refusal } from './webpush-checks.js';
import { createVapidCheck } from './webpush-auth.js';
import { droppedReason, urlHost } from './apns.js';
import type { DeliveryRecord } from './records.js';
import type { FaultRule } from './faults.js';
import { listenOnFreePort, onHttp1Requests, onHttp2Streams, readBody, type SimulatorContext } from './request-io.js';

/** The simulator's clock judges VAPID `exp` and stamps received_at. */
export type WebPushSimulatorOptions = SimulatorContext;

export interface WebPushSimulator {
  /** Base URL of the push service, e.g. https://127.0.0.1:40113; subscriptions are {url}/push/{id}. */
  url: string;
  close(): Promise<void>;
}

/**
 * Web Push has no rule like APNs' one stream before authentication: the simulator offers 1,000
 * concurrent streams from the start, enough for a benchmark's in-flight pushes on few connections.
 */
export const maxConcurrentStreams = 1000;


/** Text of a fault rule that names a status but no reason. */
const defaultFaultReasons: Readonly<Record<number, string>> = {
  400: 'bad request', 401: 'missing vapid authorization', 403: 'invalid JWT provided',
  404: 'push subscription not found', 410: 'push subscription has unsubscribed or expired',
  413: 'payload too large: at most 4096 bytes', 429: 'too many requests', 500: 'internal server error',
  503: 'service unavailable',
};

/** How an answer goes back, whichever HTTP version carried the request. */
interface Reply {
  /** Answers unless the client gave up; the record still shows the verdict then. */
  send(status: number, headers: Record<string, string | number>, body: string | undefined): void;
  /** Drops the whole connection without answering (a drop_connection fault). */
  drop(): void;
}

export async function startWebPushSimulator(o: WebPushSimulatorOptions): Promise<WebPushSimulator> {
  const vapid = createVapidCheck(o.clock);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const delayed = new Set<NodeJS.Timeout>();

  const server = http2.createSecureServer({
    key: o.tls.keyPem,
    cert: o.tls.certPem,
    // Push services speak HTTPS (RFC 8030 §8); HTTP/2 or HTTP/1.1, whichever the client offers by ALPN.
    allowHTTP1: true,
    minVersion: 'TLSv1.2',
    settings: { maxConcurrentStreams, enablePush: false },
    // Node's default (10 MB) can refuse streams with ENHANCE_YOUR_CALM under a benchmark's load.
    maxSessionMemory: 64,
  });

  let baseUrl = '';

  const answer = (reply: Reply, record: DeliveryRecord, status: number, reason: string | null,
    retryAfterS: number | null = null, ttl = 0): void => {
    record.status = status;
    record.reason = reason;
    if (status === 201) {
      // 201 Created, Location naming the push message resource, TTL as kept (RFC 8030 §5, §5.2).
      reply.send(201, { location: `${baseUrl}/message/${randomUUID()}`, ttl }, undefined);
      return;
    }
    const headers: Record<string, string | number> = { 'content-type': 'text/plain; charset=utf-8' };
    // "SHOULD also include a Retry-After" with a 429 (RFC 8030 §8.4); a fault rule sets it for any status.
    if (retryAfterS !== null) headers['retry-after'] = retryAfterS;
    reply.send(status, headers, reason ?? '');
  };

  const refuse = (reply: Reply, record: DeliveryRecord, r: Refusal) => answer(reply, record, r.status, r.reason);

  const applyFault = (reply: Reply, record: DeliveryRecord, rule: FaultRule, ttl: number) => {
    if (rule.drop_connection) {
      record.status = null;
      record.reason = droppedReason;
      reply.drop();
    } else if (rule.status !== null) {
      const reason = rule.reason ?? defaultFaultReasons[rule.status] ?? (STATUS_CODES[rule.status] ?? 'error').toLowerCase();
      answer(reply, record, rule.status, reason, rule.retry_after_s);
    } else {
      answer(reply, record, 201, null, null, ttl); // a latency-only rule: delayed, then accepted
    }
  };

  /** `method`, `path` and `authority` are the pseudo-headers of HTTP/2, or the request line and Host of HTTP/1.1. */
  const onRequest = (reply: Reply, method: string | undefined, path: string | undefined, authority: string | string[] | undefined,
    headers: IncomingHttpHeaders, rawHeaders: readonly string[], record: DeliveryRecord, body: Buffer, size: number): void => {
    const early = checkRequestLine(method, path) ?? (hasDuplicateHeader(rawHeaders) ? refusals.duplicateHeader : undefined);
    if (early) return refuse(reply, record, early);
    const ttl = checkPushHeaders(headers);
    if (typeof ttl !== 'number') return refuse(reply, record, ttl);
    const keyid = checkBody(headers, body, size);
    if (keyid !== null && !Buffer.isBuffer(keyid)) return refuse(reply, record, keyid);
    // `aud` must be the origin of the push resource as the client addressed it (RFC 8292 §2).
    const denied = vapid.authorize(headers.authorization, originOf(authority, baseUrl), keyid);
    if (denied) return refuse(reply, record, denied);

    const rule = o.faults.match('webpush', record.target);
    if (!rule) return answer(reply, record, 201, null, null, ttl);
    if (rule.latency_ms === 0) return applyFault(reply, record, rule, ttl);
    const timer = setTimeout(() => {
      delayed.delete(timer);
      applyFault(reply, record, rule, ttl);
    }, rule.latency_ms);
    delayed.add(timer);
  };

  onHttp2Streams<Http2Session>(server, {
    name: 'Web Push', log: o.log, sessions, uniquePerRequest,
    connection: (session) => session,
    onStream: (session, stream, headers, rawHeaders) => {
      const record = o.records.open('webpush', o.clock(), targetOf(headers[':path'] ?? ''), rawHeaders);
      const reply: Reply = {
        send(status, h, body) {
          if (stream.destroyed || stream.closed) return;
          stream.respond({ ':status': status, ...h }, { endStream: body === undefined });
          if (body !== undefined) stream.end(body);
        },
        drop: () => session.destroy(),
      };
      readBody(stream, (body, size) => {
        record.body = body;
        onRequest(reply, headers[':method'], headers[':path'], headers[':authority'] ?? headers.host, headers, rawHeaders, record, body, size);
      });
    },
  });

  onHttp1Requests(server, {
    sockets,
    onRequest: (req, res, rawHeaders) => {
      const record = o.records.open('webpush', o.clock(), targetOf(req.url ?? ''), rawHeaders);
      const reply: Reply = {
        send(status, h, body) {
          if (res.destroyed || res.writableEnded) return;
          res.writeHead(status, h);
          res.end(body);
        },
        drop: () => req.socket.destroy(),
      };
      readBody(req, (body, size) => {
        record.body = body;
        onRequest(reply, req.method, req.url, req.headers.host, req.headers, rawHeaders, record, body, size);
      });
    },
  });

  const port = await listenOnFreePort(server, o.host);
  baseUrl = `https://${urlHost(o.host)}:${port}`;

  return {
    url: baseUrl,
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

/** `https://` + the authority the client used, default port dropped as URL origins drop it. */
function originOf(authority: string | string[] | undefined, fallback: string): string {
  const a = typeof authority === 'string' ? authority : authority?.[0];
  if (!a) return fallback;
  const lower = a.toLowerCase();
  return `https://${lower.endsWith(':443') ? lower.slice(0, -4) : lower}`;
}

/** Values unique per request, never interned (request-io.ts). */
const uniquePerRequest = new Set([':path', 'content-length', 'topic']);
