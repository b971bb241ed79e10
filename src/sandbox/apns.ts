/**
 * The APNs simulator: HTTP/2 over TLS, answering as Apple's provider API does
 * (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). Every request is recorded
 * (records.ts) and may be made to fail on purpose by a fault rule (faults.ts).
 *
 * Built for load: benchmarks drive 20,000+ requests/s through it on two cores, so a request does no
 * async work beyond reading its body (a token already accepted on the connection is a string
 * compare; apns-auth.ts) and nothing is logged per request.
 */
import http2, { type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  checkApnsHeaders, checkPayload, checkRequestLine, findDuplicateHeader, isApnsId, refusals, targetOf, type Refusal,
} from './apns-checks.js';
import { createProviderTokenCheck, newConnectionTokens, type ConnectionTokens } from './apns-auth.js';
import type { ApnsSigningKey } from './credentials.js';
import type { DeliveryRecord } from './records.js';
import type { FaultRule } from './faults.js';
import { listenOnFreePort, onHttp2Streams, readBody, type SimulatorContext } from './request-io.js';

export interface ApnsSimulatorOptions extends SimulatorContext {
  key: ApnsSigningKey;
}

export interface ApnsSimulator {
  /** Base URL a client connects to, e.g. https://127.0.0.1:40111. */
  url: string;
  close(): Promise<void>;
}

/**
 * "With token auth, only 1 stream is allowed until a request carrying a valid token has been
 * posted" (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). After that the simulator allows 1,000, about what APNs was observed to advertise
 * (500 to 1,500: lionheart/openradar-mirror#15649, jchambers/pushy#709).
 */
export const initialMaxConcurrentStreams = 1;
export const authorizedMaxConcurrentStreams = 1000;


/** Reason of a fault rule that names a status but no reason: Apple's usual reason for it (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns). */
const defaultFaultReasons: Readonly<Record<number, string>> = {
  400: 'BadDeviceToken', 403: 'Forbidden', 404: 'BadPath', 405: 'MethodNotAllowed', 410: 'Unregistered',
  413: 'PayloadTooLarge', 429: 'TooManyRequests', 500: 'InternalServerError', 503: 'ServiceUnavailable',
};

/** The reason a dropped request is listed with (it got no answer, so Apple has no word for it). */
export const droppedReason = 'ConnectionDropped';

interface Connection {
  session: Http2Session;
  tokens: ConnectionTokens;
  /** Whether the stream limit was already raised after a valid token (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). */
  raised: boolean;
}

export async function startApnsSimulator(o: ApnsSimulatorOptions): Promise<ApnsSimulator> {
  const tokenCheck = createProviderTokenCheck({
    teamId: o.key.team_id, keyId: o.key.key_id, publicKey: o.key.publicKey, clock: o.clock,
  });
  const sessions = new Set<Http2Session>();
  const delayed = new Set<NodeJS.Timeout>();

  const server = http2.createSecureServer({
    key: o.tls.keyPem,
    cert: o.tls.certPem,
    // APNs speaks HTTP/2 over TLS 1.2 or later only (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
    allowHTTP1: false,
    minVersion: 'TLSv1.2',
    settings: { maxConcurrentStreams: initialMaxConcurrentStreams, enablePush: false },
    // Node's default (10 MB) can refuse streams with ENHANCE_YOUR_CALM when a benchmark keeps a
    // thousand streams in flight on one connection.
    maxSessionMemory: 64,
  });

  const answer = (stream: ServerHttp2Stream, record: DeliveryRecord, apnsId: string, status: number, reason: string | null,
    retryAfterS: number | null = null): void => {
    record.status = status;
    record.reason = reason;
    if (stream.destroyed || stream.closed) return; // the client gave up; the record still shows the verdict
    if (status === 200) {
      // Success: :status 200, apns-id, empty body (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
      stream.respond({ ':status': 200, 'apns-id': apnsId }, { endStream: true });
      return;
    }
    // Errors: JSON {"reason"}; 410 adds "timestamp" in milliseconds since the epoch (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
    const body = JSON.stringify(status === 410 ? { reason, timestamp: o.clock() } : { reason });
    const headers: Record<string, string | number> = { ':status': status, 'apns-id': apnsId, 'content-type': 'application/json' };
    if (retryAfterS !== null) headers['retry-after'] = retryAfterS;
    stream.respond(headers);
    stream.end(body);
  };

  const refuse = (stream: ServerHttp2Stream, record: DeliveryRecord, apnsId: string, r: Refusal) =>
    answer(stream, record, apnsId, r.status, r.reason);

  const applyFault = (conn: Connection, stream: ServerHttp2Stream, record: DeliveryRecord, apnsId: string, rule: FaultRule) => {
    if (rule.drop_connection) {
      record.status = null;
      record.reason = droppedReason;
      conn.session.destroy();
    } else if (rule.status !== null) {
      const reason = rule.reason ?? defaultFaultReasons[rule.status] ?? (STATUS_CODES[rule.status] ?? 'Error').replace(/\W/g, '');
      answer(stream, record, apnsId, rule.status, reason, rule.retry_after_s);
    } else {
      answer(stream, record, apnsId, 200, null); // a latency-only rule: delayed, then accepted
    }
  };

  /** After the request line, headers and token passed: apns-* headers, payload, faults, success. */
  const finish = (conn: Connection, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, record: DeliveryRecord,
    apnsId: string, body: Buffer, size: number): void => {
    const limit = checkApnsHeaders(headers, o.key.topic);
    if (typeof limit !== 'number') return refuse(stream, record, apnsId, limit);
    const bad = checkPayload(body, size, limit);
    if (bad) return refuse(stream, record, apnsId, bad);
    const rule = o.faults.match('apns', record.target);
    if (!rule) return answer(stream, record, apnsId, 200, null);
    if (rule.latency_ms === 0) return applyFault(conn, stream, record, apnsId, rule);
    const timer = setTimeout(() => {
      delayed.delete(timer);
      applyFault(conn, stream, record, apnsId, rule);
    }, rule.latency_ms);
    delayed.add(timer);
  };

  const onRequest = (conn: Connection, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: readonly string[],
    record: DeliveryRecord, body: Buffer, size: number): void => {
    // Echo the client's apns-id, or make one up as APNs does (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns); an invalid one is not echoed.
    const given = headers['apns-id'];
    const apnsId = typeof given === 'string' && isApnsId(given) ? given : randomUUID();

    const early = checkRequestLine(headers[':method'], headers[':path'])
      ?? (findDuplicateHeader(rawHeaders) !== undefined ? refusals.duplicateHeaders : undefined);
    if (early) return refuse(stream, record, apnsId, early);

    const authorized = (denied: Refusal | undefined) => {
      if (denied) return refuse(stream, record, apnsId, denied);
      if (!conn.raised) {
        conn.raised = true;
        if (!conn.session.destroyed) conn.session.settings({ maxConcurrentStreams: authorizedMaxConcurrentStreams });
      }
      finish(conn, stream, headers, record, apnsId, body, size);
    };
    const verdict = tokenCheck.authorize(conn.tokens, headers.authorization);
    if (verdict instanceof Promise) verdict.then(authorized, (err: unknown) => {
      o.log.error({ err }, 'APNs simulator: token check failed'); // a bug: verify() catches everything it expects
      answer(stream, record, apnsId, 500, 'InternalServerError');
    });
    else authorized(verdict);
  };

  onHttp2Streams<Connection>(server, {
    name: 'APNs', log: o.log, sessions, uniquePerRequest,
    connection: (session) => ({ session, tokens: newConnectionTokens(), raised: false }),
    onStream: (conn, stream, headers, rawHeaders) => {
      const record = o.records.open('apns', o.clock(), targetOf(headers[':path'] ?? ''), rawHeaders);
      readBody(stream, (body, size) => {
        record.body = body;
        onRequest(conn, stream, headers, rawHeaders, record, body, size);
      });
    },
  });

  const port = await listenOnFreePort(server, o.host);

  return {
    url: `https://${urlHost(o.host)}:${port}`,
    close: async () => {
      for (const t of delayed) clearTimeout(t);
      delayed.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.destroy();
      await closed;
    },
  };
}

/** Values unique per request, never interned (request-io.ts). */
const uniquePerRequest = new Set([':path', 'apns-id', 'apns-collapse-id', 'apns-expiration']);

/** How a URL names the listening host: a wildcard address becomes loopback, IPv6 gets brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
