/**
 * A pool of long-lived HTTP/2 connections to one APNs endpoint for one (team, key): APNs binds a
 * connection to the key of its first push (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns, UnrelatedKeyIdInToken), so pools are
 * never shared across keys. Streams are spread over up to `maxConnections` connections, each used up
 * to the concurrency its peer advertises (APNs allows 1 stream until a valid token was posted, then
 * raises it; the pool follows the peer's SETTINGS as they change).
 *
 * Written on node:http2 rather than a client library: the libraries of the field either open a
 * session per send or cap one session at ~100 streams, the two weaknesses this pool exists to avoid.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { once } from 'node:events';
import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import { budgetShare, type Share } from '../../domain/process-share.js';
import { ForbiddenAddress } from '../outbound-guard.js';

export interface PoolOptions {
  /** https://host:port */
  origin: string;
  /** Extra CA to trust (the sandbox's self-signed certificate); absent for Apple. */
  ca?: string | undefined;
  log: Logger;
  /** Connections the account may have open, across every worker process. */
  maxConnections: number;
  /** This process's share of them (domain/process-share.ts); all of them by default. */
  share?: Share | undefined;
  /** Open another connection once every open one carries this many streams. */
  streamsPerConnection: number;
  requestTimeoutMs: number;
  /** Resolves the origin's host for each new connection (a guarded lookup for tenant-named origins). */
  lookup?: LookupFunction | undefined;
}

export interface Http2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The request never got an answer: the connection failed, closed, refused the stream, or timed out. */
export class ConnectionError extends Error {
  constructor(message: string, readonly retriable: boolean) {
    super(message);
  }
}

/**
 * This one request was refused, not the connection, and sending it again cannot help: Node would not
 * send it (`local`: a header or path its checks refuse, a TypeError from building the stream), or the
 * peer reset just this stream with PROTOCOL_ERROR, HTTP/2's answer to a malformed request (RFC 9113
 * §8.1.1), while the connection carried on. Either way it says nothing about the peer being down.
 */
export class RequestRefused extends Error {
  constructor(message: string, readonly local: boolean) {
    super(message);
  }
}

interface Connection {
  session: ClientHttp2Session;
  inflight: number;
  retired: boolean;
}

/** Cap on streams per connection whatever the peer allows: past it another connection is cheaper. */
const maxStreamsPerConnection = 1000;
/** Apple: after about an hour without traffic, send a PING to keep the connection (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). */
const idlePingMs = 55 * 60_000;

export function createConnectionPool(o: PoolOptions) {
  const connections: Connection[] = [];
  const opening = new Set<Promise<Connection>>();
  const waiters: (() => void)[] = [];
  let closed = false;

  const wakeOne = () => waiters.shift()?.();
  const wakeAll = () => waiters.splice(0).forEach((w) => w());

  const limitOf = (c: Connection) =>
    Math.min(maxStreamsPerConnection, c.session.remoteSettings?.maxConcurrentStreams ?? 1);

  const retire = (c: Connection, why: string) => {
    if (c.retired) return;
    c.retired = true;
    const i = connections.indexOf(c);
    if (i >= 0) connections.splice(i, 1);
    o.log.debug({ origin: o.origin, why }, 'APNs connection retired');
    // Let streams in flight finish; close() sends GOAWAY and ends the session once they have.
    if (!c.session.closed && !c.session.destroyed) c.session.close();
    wakeAll();
  };

  const open = async (): Promise<Connection> => {
    // node's connect resolves the host with the OS resolver on every call: no DNS answer is cached
    // across connections, as Apple asks (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
    const session = http2.connect(o.origin, { ca: o.ca, settings: { enablePush: false }, ...(o.lookup ? { lookup: o.lookup } : {}) });
    const c: Connection = { session, inflight: 0, retired: false };
    let refused: ForbiddenAddress | undefined;
    session.once('error', (err) => { if (err instanceof ForbiddenAddress) refused = err; });
    session.on('goaway', (code, _last, data) => {
      retire(c, `GOAWAY ${code}${data?.length ? ' ' + data.toString('utf8').slice(0, 200) : ''}`);
    });
    session.on('remoteSettings', wakeAll); // the peer raised (or lowered) its concurrency
    session.on('error', (err) => o.log.debug({ err, origin: o.origin }, 'APNs connection error'));
    session.on('close', () => retire(c, 'closed'));
    session.setTimeout(idlePingMs, () => {
      if (!c.retired && c.inflight === 0) session.ping(() => undefined);
    });
    try {
      await Promise.race([
        once(session, 'remoteSettings'),
        once(session, 'close').then(() => { throw new ConnectionError(`connection to ${o.origin} closed during setup`, true); }),
      ]);
    } catch (err) {
      session.destroy();
      if (refused) throw refused; // the guarded lookup refused the host: not a connection failure
      throw err instanceof ConnectionError ? err : new ConnectionError(`cannot connect to ${o.origin}: ${(err as Error).message}`, true);
    }
    return c;
  };

  /** A connection with a free stream: the least busy one, a new one when all are busy, or the next to free up. */
  const acquire = async (): Promise<Connection> => {
    for (;;) {
      if (closed) throw new ConnectionError('the APNs sender is closed', false);
      let best: Connection | undefined;
      for (const c of connections) if (!best || c.inflight < best.inflight) best = c;
      const busy = !best || best.inflight >= Math.min(limitOf(best), o.streamsPerConnection);
      const budget = o.share ? budgetShare(o.maxConnections, o.share()) : o.maxConnections;
      if (busy && connections.length + opening.size < budget) {
        const p = open();
        opening.add(p);
        try {
          const c = await p;
          if (closed) c.session.destroy();
          else connections.push(c);
        } finally {
          opening.delete(p);
          wakeAll(); // whoever waited on this connection looks again (it may have failed)
        }
        continue;
      }
      if (best && best.inflight < limitOf(best)) return best;
      await new Promise<void>((r) => waiters.push(r));
    }
  };

  const exchange = (c: Connection, headers: OutgoingHttpHeaders, body: string | Uint8Array): Promise<Http2Answer> =>
    new Promise<Http2Answer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = c.session.request(headers);
      } catch (err) {
        // Node's header checks throw TypeErrors (ERR_HTTP2_INVALID_HEADER_VALUE, ERR_INVALID_HTTP_TOKEN,
        // ERR_HTTP2_INVALID_PSEUDOHEADER, ERR_INVALID_CHAR...): this request's fault, the connection
        // is fine. Other errors are the session's state (ERR_HTTP2_INVALID_SESSION, ERR_HTTP2_GOAWAY_SESSION).
        if (err instanceof TypeError || err instanceof RangeError) {
          const code = (err as NodeJS.ErrnoException).code;
          reject(new RequestRefused(`Node refused to send the request (${err.name}${code ? ' ' + code : ''})`, true));
          return;
        }
        retire(c, 'request failed');
        reject(new ConnectionError(`cannot open a stream: ${(err as Error).message}`, true));
        return;
      }
      let status = 0;
      let answer: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status']);
        answer = h;
      });
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('error', () => undefined); // reported through 'close' below with the stream's rstCode
      stream.setTimeout(o.requestTimeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('close', () => {
        if (status) resolve({ status, headers: answer, body: Buffer.concat(chunks) });
        else if (stream.rstCode === http2.constants.NGHTTP2_PROTOCOL_ERROR && !c.retired && !c.session.destroyed) {
          reject(new RequestRefused(`${o.origin} reset the request as malformed (PROTOCOL_ERROR)`, false));
        } else reject(new ConnectionError(`no answer from ${o.origin} (stream reset ${stream.rstCode})`, true));
      });
      stream.end(body);
    });

  return {
    /**
     * Sends one request on a pooled connection; throws ConnectionError when no answer came, or
     * RequestRefused when this request could not be sent as it is.
     * `retireWhen` names answers after which that connection should carry nothing more.
     */
    async request(headers: OutgoingHttpHeaders, body: string | Uint8Array, retireWhen?: (a: Http2Answer) => string | undefined): Promise<Http2Answer> {
      const c = await acquire();
      c.inflight++;
      try {
        const answer = await exchange(c, headers, body);
        const why = retireWhen?.(answer);
        if (why) retire(c, why);
        return answer;
      } finally {
        c.inflight--;
        wakeOne();
      }
    },
    async close(): Promise<void> {
      closed = true;
      wakeAll();
      await Promise.allSettled([...opening]);
      await Promise.all(
        connections.splice(0).map((c) => new Promise<void>((r) => {
          if (c.session.closed || c.session.destroyed) return r();
          c.session.close(() => r());
        })),
      );
    },
  };
}

export type ConnectionPool = ReturnType<typeof createConnectionPool>;
