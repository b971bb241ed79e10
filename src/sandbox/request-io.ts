/**
 * What the simulators share: the raw header list a record keeps, the request body as read, and
 * listening, HTTP/2 connection plumbing (apns.ts, fcm.ts, webpush.ts) and HTTP/1.1 beside it on
 * the same port (fcm.ts, webpush.ts).
 */
import type { Http2SecureServer, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { TlsIdentity } from './credentials.js';
import type { DeliveryRecords } from './records.js';
import type { Faults } from './faults.js';

/**
 * A record keeps its request's header list, and most values repeat on every request of a connection
 * (a bearer token or VAPID authorization of a few hundred bytes, the topic, the authority): pointing
 * them all at one string per connection saves a few hundred bytes per record, which at a million
 * records is the difference between fitting in Node's default heap or not. Names in `uniquePerRequest`
 * (the path, ids) are left alone, and the table stops growing at a small size so a client varying
 * values costs nothing more.
 */
const maxInternedPerConnection = 64;

export function internValues(interned: Map<string, string>, rawHeaders: string[], uniquePerRequest: ReadonlySet<string> = new Set()): void {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (uniquePerRequest.has(rawHeaders[i]!)) continue;
    const value = rawHeaders[i + 1]!;
    const same = interned.get(value);
    if (same !== undefined) rawHeaders[i + 1] = same;
    else if (interned.size < maxInternedPerConnection) interned.set(value, value);
  }
}

/** The header object as a raw list, for a Node that does not pass one (then duplicates are already joined). */
export function flatten(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
  }
  return out;
}

/** Body bytes a record keeps: every simulator refuses far smaller bodies, so this is plenty to show. */
export const maxKeptBodyBytes = 65_536;

/**
 * Reads a request body as it streams in, keeping at most `maxKeptBodyBytes` but counting all of it,
 * then calls `done` with the kept bytes and the full size.
 */
export function readBody(stream: NodeJS.ReadableStream, done: (body: Buffer, size: number) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('error', () => undefined); // a client reset; nothing to answer
  stream.on('data', (chunk: Buffer) => {
    // Copied: Node may hand out slices of a larger socket buffer, which a kept record would pin.
    if (size < maxKeptBodyBytes) chunks.push(Buffer.from(chunk.subarray(0, maxKeptBodyBytes - size)));
    size += chunk.length;
  });
  stream.on('end', () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), size));
}

/** Listens on a free port of `host` and resolves with it. */
export function listenOnFreePort(server: import('node:net').Server, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve((server.address() as import('node:net').AddressInfo).port);
    });
  });
}

/** What every simulator is started with: where to listen, its TLS identity, the shared records and
 *  fault rules, its clock and its logger (sandbox/index.ts builds one and hands it to each). */
export interface SimulatorContext {
  host: string;
  tls: TlsIdentity;
  records: DeliveryRecords;
  faults: Faults;
  clock: () => number;
  log: Logger;
}

/**
 * The HTTP/2 simulators' connection plumbing: keeps `sessions` (so close() can drop them), logs a
 * connection's errors, and hands every request its raw header list, with the values the connection
 * repeats interned (internValues), to `onStream` along with the per-connection state `connection`
 * made for it.
 */
export function onHttp2Streams<C>(
  server: Http2SecureServer,
  o: {
    name: string;
    log: Logger;
    sessions: Set<Http2Session>;
    connection(session: Http2Session): C;
    uniquePerRequest?: ReadonlySet<string>;
    onStream(conn: C, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void;
  },
): void {
  server.on('session', (session: Http2Session) => {
    o.sessions.add(session);
    const conn = o.connection(session);
    const interned = new Map<string, string>();
    session.on('close', () => o.sessions.delete(session));
    session.on('error', (err) => o.log.debug({ err }, `${o.name} simulator: connection error`));
    // Node passes the raw header list as a 4th argument (its typings stop at 3): the only place a
    // repeated header is still visible.
    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, ...rest: unknown[]) => {
      const rawHeaders = Array.isArray(rest[0]) ? (rest[0] as string[]) : flatten(headers);
      internValues(interned, rawHeaders, o.uniquePerRequest);
      o.onStream(conn, stream, headers, rawHeaders);
    });
  });
}

/**
 * HTTP/1.1 requests on an HTTP/2 server made with `allowHTTP1`, as the services whose clients still
 * speak it accept them (Google's token endpoint and FCM, push services). `onRequest` gets the raw
 * header list laid out as an HTTP/2 request's (pseudo-headers first, names in lower case, records.ts)
 * and reads the body itself (readBody), as onHttp2Streams' `onStream` does. The connections are
 * kept in `sockets`, so close() can drop the kept-alive ones that would otherwise hold server.close() open.
 *
 * Node also routes HTTP/2 streams to 'request' listeners through its compatibility layer, which
 * would wrap every stream in two objects: that listener is removed, and HTTP/2 stays on the
 * onHttp2Streams handler (the version check guards against a Node that differs).
 */
export function onHttp1Requests(
  server: Http2SecureServer,
  o: {
    sockets: Set<Socket>;
    onRequest(req: IncomingMessage, res: ServerResponse, rawHeaders: string[]): void;
  },
): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor !== 1) return;
    const rawHeaders = [':method', req.method ?? '', ':path', req.url ?? ''];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) rawHeaders.push(req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!);
    o.onRequest(req, res, rawHeaders);
  });
  for (const l of server.listeners('stream')) server.off('stream', l as (...args: unknown[]) => void);
  server.on('secureConnection', (socket: Socket) => {
    o.sockets.add(socket);
    socket.on('close', () => o.sockets.delete(socket));
  });
}
