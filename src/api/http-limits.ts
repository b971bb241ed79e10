/**
 * How long, and how many, the API's sockets may take. Without these an anonymous client holds
 * sockets open for ever by sending headers (or a body) a byte at a time, until the process runs out
 * of file descriptors and no one reaches the API (the "slowloris" attack).
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, errorCatalogue, type ErrorCode } from './errors.js';
import { loadConfig } from '../config.js';

export interface HttpLimits {
  /** From a connection's first byte (or a keep-alive request's) to the end of its headers. */
  headersTimeoutMs: number;
  /**
   * From a request's first byte to the end of its body: a bulk import's 256 MiB must fit. Keep it
   * under two hours: the scheduler takes an upload still staging after that for abandoned.
   */
  requestTimeoutMs: number;
  /** A socket that sends nothing (a body that stalls) for this long is closed. */
  idleTimeoutMs: number;
  /** An idle keep-alive socket is closed after this long. */
  keepAliveTimeoutMs: number;
  /** Connections one API process accepts at once; past it a new connection is closed at once. */
  maxConnections: number;
}

/**
 * The longest path segment read, percent-encoded (Fastify's default is 100): a 512-character
 * custom_id of 4-byte UTF-8 characters is at most 6,144 bytes encoded, an unsubscribe token for a
 * 254-byte address under 400. Past it: 414 path_too_long.
 */
export const maxParamBytes = 8192;

/** The configuration's defaults (src/config.ts declares them once, with why each), for an app built without a config. */
export const defaultHttpLimits: HttpLimits = loadConfig({}, {}).httpLimits;

/**
 * Node's http server options for these limits. Node checks header and request deadlines every
 * `connectionsCheckingInterval` (30 s by default, longer than the deadlines themselves): once a
 * second keeps a deadline within a second of its value, at the cost of one pass over the sockets.
 */
export function httpServerOptions(l: HttpLimits) {
  return {
    // Node refuses a header deadline past the request's.
    headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
    requestTimeout: l.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs),
  };
}

/**
 * Node's 'clientError' (a malformed request line or header, a header or request deadline passed):
 * the catalogue's error body instead of Node's bare "400 Bad Request", then the socket is closed,
 * since the stream cannot be trusted past the error (https://nodejs.org/api/http.html#event-clienterror).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset socket has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [ErrorCode, string] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? ['request_timeout', 'the request was not received in time; nothing was stored']
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? ['headers_too_large', 'the request headers exceed 16 KiB']
      : ['malformed_request', 'the request is not valid HTTP/1.1'];
  const status = errorCatalogue[code].status;
  const body = JSON.stringify(errorBody(code, message));
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
  // A client that never reads must not keep the socket: the answer is best effort.
  setTimeout(() => socket.destroy(), 1000).unref();
}
