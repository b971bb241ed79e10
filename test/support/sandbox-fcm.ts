/**
 * Helpers for the FCM simulator's tests and the FCM sender's: a simulator with its own stores, raw
 * HTTP/2 (and HTTP/1.1) requests trusting the sandbox's certificate, and real RS256 assertions made
 * with jose. Test-only; nothing in src/ but tests imports it.
 */
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import https from 'node:https';
import { once } from 'node:events';
import { SignJWT, importPKCS8 } from 'jose';
import { silentLogger } from '../../src/observability/logger.js';
import { createTlsIdentity } from '../../src/sandbox/credentials.js';
import { createDeliveryRecords, type DeliveryRecords, type ListedRecord } from '../../src/sandbox/records.js';
import { createFaults, type Faults } from '../../src/sandbox/faults.js';
import { startFcmSimulator, type FcmSimulator, type FcmSimulatorOptions } from '../../src/sandbox/fcm.js';

export interface FcmTestSandbox {
  sim: FcmSimulator;
  records: DeliveryRecords;
  faults: Faults;
  caPem: string;
  close(): Promise<void>;
}

/** A simulator with fresh stores; `clock` and quota as the test wants. */
export async function startFcmTestSandbox(o: Partial<Pick<FcmSimulatorOptions, 'clock' | 'messagesPerMinute' | 'maxConcurrentStreams'>> = {}): Promise<FcmTestSandbox> {
  const tls = await createTlsIdentity('127.0.0.1');
  const records = createDeliveryRecords();
  const faults = createFaults();
  const sim = await startFcmSimulator({
    host: '127.0.0.1', tls, records, faults, clock: o.clock ?? Date.now, log: silentLogger(),
    messagesPerMinute: o.messagesPerMinute, maxConcurrentStreams: o.maxConcurrentStreams,
  });
  return { sim, records, faults, caPem: tls.certPem, close: () => sim.close() };
}

/** Every record of one target, refused ones included unless told otherwise. */
export function fcmRecordsOf(sb: FcmTestSandbox, target: string, includeRejected = true): ListedRecord[] {
  return sb.records.list({ channel: 'fcm', target, limit: 10_000, includeRejected });
}

export interface AssertionOptions {
  iss?: string;
  aud?: string;
  scope?: string | undefined;
  /** Epoch seconds. */
  iat?: number;
  exp?: number;
  kid?: string | undefined;
  privateKeyPem?: string;
}

/** A JWT-bearer assertion (https://developers.google.com/identity/protocols/oauth2/service-account) from the issued account, or deliberately wrong. */
export async function assertionFor(sb: FcmTestSandbox, o: AssertionOptions = {}): Promise<string> {
  const sa = sb.sim.serviceAccount;
  const iat = o.iat ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: o.iss ?? sa.client_email, aud: o.aud ?? sa.token_uri, iat, exp: o.exp ?? iat + 3600,
  };
  if (!('scope' in o)) claims.scope = 'https://www.googleapis.com/auth/firebase.messaging';
  else if (o.scope !== undefined) claims.scope = o.scope;
  const header: { alg: string; typ: string; kid?: string } = { alg: 'RS256', typ: 'JWT' };
  if (!('kid' in o)) header.kid = sa.private_key_id;
  else if (o.kid !== undefined) header.kid = o.kid;
  return new SignJWT(claims).setProtectedHeader(header).sign(await importPKCS8(o.privateKeyPem ?? sa.private_key, 'RS256'));
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
}

/** Opens an HTTP/2 connection to the simulator and waits for its first SETTINGS. */
export async function connectFcm(sb: FcmTestSandbox): Promise<ClientHttp2Session> {
  const session = http2.connect(sb.sim.url, { ca: sb.caPem });
  session.on('error', () => undefined); // a dropped connection is what some tests want
  await once(session, 'remoteSettings');
  return session;
}

/** One raw HTTP/2 request; fails after 5 s rather than hang. */
export async function rawRequest(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body: string | Buffer): Promise<RawAnswer> {
  const stream = session.request(headers, { endStream: false });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const answered = new Promise<IncomingHttpHeaders>((resolve, reject) => {
    stream.on('response', resolve);
    stream.on('error', reject);
    stream.on('close', () => reject(new Error(`stream closed without an answer (rst ${stream.rstCode})`)));
  });
  stream.setTimeout(5_000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
  stream.end(body);
  const h = await answered;
  if (!stream.readableEnded) await once(stream, 'end');
  return parsed(Number(h[':status']), h, Buffer.concat(chunks).toString('utf8'));
}

/** POST /oauth2/token over HTTP/2 with a form body. */
export function grantRaw(session: ClientHttp2Session, form: Record<string, string>): Promise<RawAnswer> {
  return rawRequest(session, {
    ':method': 'POST', ':path': '/oauth2/token', 'content-type': 'application/x-www-form-urlencoded',
  }, new URLSearchParams(form).toString());
}

/** An access token from the simulator, granted for a valid assertion. */
export async function accessTokenFor(sb: FcmTestSandbox, session: ClientHttp2Session, o: AssertionOptions = {}): Promise<string> {
  const a = await grantRaw(session, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await assertionFor(sb, o) });
  if (a.status !== 200) throw new Error(`grant refused: ${a.body}`);
  return a.json.access_token as string;
}

/** POST /v1/projects/{project}/messages:send with `{message}` (or a raw body) and a bearer token. */
export function sendRaw(sb: FcmTestSandbox, session: ClientHttp2Session, accessToken: string | null,
  body: unknown, o: { project?: string; headers?: OutgoingHttpHeaders } = {}): Promise<RawAnswer> {
  return rawRequest(session, {
    ':method': 'POST',
    ':path': `/v1/projects/${o.project ?? sb.sim.serviceAccount.project_id}/messages:send`,
    'content-type': 'application/json',
    ...(accessToken === null ? {} : { authorization: `Bearer ${accessToken}` }),
    ...o.headers,
  }, typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}

/** One HTTP/1.1 request over TLS, offering only http/1.1 in ALPN as fetch() does. */
export function http1Request(sb: FcmTestSandbox, method: string, path: string, headers: Record<string, string>, body: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    // ALPNProtocols reaches tls.connect; Node's RequestOptions typing leaves it out.
    const options = { method, headers, ca: sb.caPem, agent: false, ALPNProtocols: ['http/1.1'] } as https.RequestOptions;
    const req = https.request(sb.sim.url + path, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(parsed(res.statusCode ?? 0, res.headers as IncomingHttpHeaders, Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.end(body);
  });
}

function parsed(status: number, headers: IncomingHttpHeaders, body: string): RawAnswer {
  let json: unknown;
  try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
  return { status, headers, body, json };
}

let tokenCount = 0;
/** A fresh registration-token-shaped string, distinct per call so each test finds its own records. */
export function registrationToken(prefix = 'tok'): string {
  tokenCount++;
  return `${prefix}${tokenCount.toString(36)}_${Math.floor(Math.random() * 2 ** 32).toString(36)}:APA91b${'x'.repeat(120)}`;
}
