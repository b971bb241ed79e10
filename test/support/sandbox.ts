/**
 * Helpers for the sandbox's own tests: a real HTTP/2 client over TLS trusting the sandbox's
 * certificate, real ES256 provider tokens made with jose from the issued credentials, and calls to
 * the inspection API. Test-only; nothing in src/ imports it.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { once } from 'node:events';
import { SignJWT, importPKCS8 } from 'jose';
import type { Sandbox } from '../../src/sandbox/index.js';

/** Opens an HTTP/2 connection to the APNs simulator and waits for its first SETTINGS. */
export async function connectApns(sandbox: Sandbox): Promise<ClientHttp2Session> {
  const session = http2.connect(sandbox.endpoints.apns, { ca: sandbox.caPem });
  session.on('error', () => undefined); // a dropped connection is what some tests want
  await once(session, 'remoteSettings');
  return session;
}

export interface TokenOptions {
  /** `iat` in epoch seconds; now by default. */
  iat?: number;
  kid?: string;
  iss?: string;
  /** Another PKCS#8 key to sign with. */
  privateKeyPem?: string;
}

/** A provider token (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns) from the sandbox's credentials, or deliberately wrong ones. */
export async function providerToken(sandbox: Sandbox, o: TokenOptions = {}): Promise<string> {
  const c = sandbox.credentials.apns;
  const key = await importPKCS8(o.privateKeyPem ?? c.private_key_pem, 'ES256');
  return new SignJWT({ iss: o.iss ?? c.team_id, iat: o.iat ?? Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? c.key_id })
    .sign(key);
}

export interface PushOptions {
  token?: string;
  /** Overrides the headers of a valid push; `undefined` removes one, an array repeats it. */
  headers?: Record<string, string | string[] | number | undefined>;
  body?: string | Buffer;
  /** The JWT to send as `authorization: bearer …`; null sends no authorization. */
  jwt?: string | null;
}

export interface PushAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed JSON error body, when there is one. */
  json: { reason?: string; timestamp?: number } | undefined;
}

let tokenCount = 0;
/** A fresh hex device token, distinct per call so each test finds its own records. */
export function deviceToken(prefix = ''): string {
  tokenCount++;
  return prefix + tokenCount.toString(16).padStart(8, '0') + Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0') + 'ab'.repeat(24);
}

export const validBody = JSON.stringify({ aps: { alert: { title: 'Hi', body: 'there' } } });

/** Sends one push; the defaults make a valid one. */
export async function push(session: ClientHttp2Session, sandbox: Sandbox, jwt: string | null, o: PushOptions = {}): Promise<PushAnswer> {
  const headers: OutgoingHttpHeaders = {
    ':method': 'POST',
    ':path': `/3/device/${o.token ?? deviceToken()}`,
    'apns-topic': sandbox.credentials.apns.topic,
    'apns-push-type': 'alert',
    ...(jwt === null ? {} : { authorization: `bearer ${jwt}` }),
  };
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  const stream = session.request(headers, { endStream: false });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const answered = new Promise<IncomingHttpHeaders>((resolve, reject) => {
    stream.on('response', resolve);
    stream.on('error', reject);
    stream.on('close', () => reject(new Error(`stream closed without an answer (rst ${stream.rstCode})`)));
  });
  // A test fails rather than hangs when the simulator never answers.
  stream.setTimeout(5_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
  stream.end(o.body ?? validBody);
  const answer = await answered;
  if (!stream.readableEnded) await once(stream, 'end');
  const body = Buffer.concat(chunks).toString('utf8');
  let json: PushAnswer['json'];
  try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
  return { status: Number(answer[':status']), headers: answer, body, json };
}

/** Calls the inspection API; answers the status, headers and parsed body (JSON when it is JSON). */
export async function inspect(sandbox: Sandbox, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(sandbox.inspectionUrl + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The records of one device token, rejected ones included unless told otherwise. */
export async function recordsOf(sandbox: Sandbox, token: string, includeRejected = true): Promise<any[]> {
  const r = await inspect(sandbox, 'GET', `/_sandbox/deliveries?channel=apns&target=${token}${includeRejected ? '&include=rejected' : ''}`);
  if (r.status !== 200) throw new Error(`deliveries answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as any[];
}

/** Waits for `p`, or fails after `ms`: a test that waits on an event must fail, never hang. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
