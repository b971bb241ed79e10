/**
 * How a push request reaches a push service: Web Push endpoints are arbitrary HTTPS URLs (FCM,
 * Mozilla, Apple, the sandbox), some speaking HTTP/2 and some only HTTP/1.1. The first request to an
 * origin asks TLS which one it speaks (ALPN, RFC 7301); HTTP/2 origins then get the long-lived
 * connection pool the APNs client uses, HTTP/1.1 origins a keep-alive agent. Either way connections
 * are kept per origin and reused, never opened per send.
 */
import https from 'node:https';
import tls from 'node:tls';
import { isIP } from 'node:net';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { Logger } from 'pino';
import { ConnectionError, RequestRefused, createConnectionPool, type ConnectionPool } from '../apns/connection-pool.js';
import { budgetShare, type Share } from '../../domain/process-share.js';
import { portOfUrl } from '../../domain/network-address.js';
import { ForbiddenAddress, unguarded, type OutboundGuard } from '../outbound-guard.js';

export { ConnectionError, RequestRefused };

export interface PushAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface TransportOptions {
  log: Logger;
  /** A CA to trust besides the public roots (the sandbox's certificate). */
  ca?: string | undefined;
  maxConnectionsPerOrigin: number;
  /** This process's share of those connections (domain/process-share.ts). */
  share?: Share | undefined;
  requestTimeoutMs: number;
  /** Refuses endpoints on private networks (a subscription's URL comes from the browser, i.e. anyone). */
  guard?: OutboundGuard | undefined;
}

export interface PushTransport {
  /** POSTs `body` to `url`; throws ConnectionError when no answer came, ForbiddenAddress when the endpoint is on a private network. */
  post(url: URL, headers: Record<string, string>, body: Buffer): Promise<PushAnswer>;
  close(): Promise<void>;
}

interface OriginTransport {
  protocol: 'h2' | 'http/1.1';
  post(url: URL, headers: Record<string, string>, body: Buffer): Promise<PushAnswer>;
  close(): Promise<void>;
}

/** Streams an HTTP/2 connection carries before the pool opens another (up to the peer's limit). */
const streamsPerConnection = 100;

export function createPushTransport(o: TransportOptions): PushTransport {
  // Passing `ca` replaces Node's trusted roots: a sender that also reaches real push services must
  // keep them and add the sandbox's certificate.
  const ca = o.ca ? [...tls.rootCertificates, o.ca].join('\n') : undefined;
  const secureContext = ca ? tls.createSecureContext({ ca }) : undefined;
  const origins = new Map<string, Promise<OriginTransport>>();
  let closed = false;
  const guard = o.guard ?? unguarded;

  const http2Origin = (url: URL): OriginTransport => {
    const pool: ConnectionPool = createConnectionPool({
      origin: url.origin, lookup: guard.lookupFor(portOfUrl(url)), ca, log: o.log, maxConnections: o.maxConnectionsPerOrigin, share: o.share, streamsPerConnection, requestTimeoutMs: o.requestTimeoutMs,
    });
    return {
      protocol: 'h2',
      post: (url, headers, body) => {
        const h2: OutgoingHttpHeaders = { ':method': 'POST', ':path': url.pathname + url.search, ...headers };
        return pool.request(h2, body);
      },
      close: () => pool.close(),
    };
  };

  const http1Origin = (origin: URL): OriginTransport => {
    // An agent's socket limit is fixed: the share at the time the origin is first used.
    const maxSockets = budgetShare(o.maxConnectionsPerOrigin, o.share?.() ?? 1);
    const agent = new https.Agent({ keepAlive: true, maxSockets, secureContext, lookup: guard.lookupFor(portOfUrl(origin)) });
    return {
      protocol: 'http/1.1',
      post: (url, headers, body) => new Promise<PushAnswer>((resolve, reject) => {
        let req: ReturnType<typeof https.request>;
        try {
          req = https.request(url, { method: 'POST', agent, headers, timeout: o.requestTimeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on('error', (err) => reject(new ConnectionError(`answer from ${url.origin} cut off: ${err.message}`, true)));
          });
        } catch (err) {
          // Node's checks of the URL and headers throw before anything is written (ERR_INVALID_CHAR,
          // ERR_UNESCAPED_CHARACTERS...): this request's fault, not the push service's.
          const code = (err as NodeJS.ErrnoException).code;
          reject(new RequestRefused(`Node refused to send the request (${(err as Error).name}${code ? ' ' + code : ''})`, true));
          return;
        }
        req.on('timeout', () => req.destroy(new Error(`no answer within ${o.requestTimeoutMs} ms`)));
        req.on('error', (err) => reject(err instanceof ForbiddenAddress ? err : new ConnectionError(`no answer from ${url.origin}: ${err.message}`, true)));
        req.end(body);
      }),
      close: async () => agent.destroy(),
    };
  };

  /** Which protocol the origin's TLS server picks when offered both (one handshake per origin). */
  const negotiate = (url: URL): Promise<string> => new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tls.connect({
      host,
      port: portOfUrl(url),
      lookup: guard.lookupFor(portOfUrl(url)),
      // SNI carries host names only (RFC 6066 §3).
      ...(isIP(host) ? {} : { servername: host }),
      ALPNProtocols: ['h2', 'http/1.1'],
      secureContext,
    });
    socket.setTimeout(o.requestTimeoutMs, () => socket.destroy(new Error(`no TLS handshake within ${o.requestTimeoutMs} ms`)));
    socket.once('secureConnect', () => {
      const protocol = socket.alpnProtocol;
      socket.end();
      resolve(typeof protocol === 'string' ? protocol : 'http/1.1');
    });
    socket.once('error', (err) => reject(err instanceof ForbiddenAddress ? err : new ConnectionError(`cannot connect to ${url.origin}: ${err.message}`, true)));
  });

  const originFor = (url: URL): Promise<OriginTransport> => {
    let t = origins.get(url.origin);
    if (!t) {
      t = negotiate(url).then((protocol) => {
        o.log.debug({ origin: url.origin, protocol }, 'push service protocol');
        return protocol === 'h2' ? http2Origin(url) : http1Origin(url);
      });
      origins.set(url.origin, t);
      // An unreachable origin is asked again on the next send rather than remembered as broken.
      t.catch(() => { if (origins.get(url.origin) === t) origins.delete(url.origin); });
    }
    return t;
  };

  return {
    async post(url, headers, body) {
      if (closed) throw new ConnectionError('the Web Push sender is closed', false);
      guard.check(url.hostname, portOfUrl(url)); // a literal address: no lookup will see it
      return (await originFor(url)).post(url, headers, body);
    },
    async close() {
      closed = true;
      const all = [...origins.values()];
      origins.clear();
      await Promise.all(all.map((p) => p.then((t) => t.close(), () => undefined)));
    },
  };
}
