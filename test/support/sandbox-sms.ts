/**
 * Helpers for the SMS simulator's tests, the SMS sender's and the webhook routes': a simulator with
 * its own stores, raw HTTPS requests trusting the sandbox's certificate, and a plain HTTP server
 * that collects the webhooks posted to it. Test-only; nothing in src/ but tests imports it.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/observability/logger.js';
import { createTlsIdentity } from '../../src/sandbox/credentials.js';
import { createDeliveryRecords, type DeliveryRecords, type ListedRecord } from '../../src/sandbox/records.js';
import { createFaults, type Faults } from '../../src/sandbox/faults.js';
import { startSmsSimulator, type SmsSimulator } from '../../src/sandbox/sms.js';

export interface SmsTestSandbox {
  sim: SmsSimulator;
  records: DeliveryRecords;
  faults: Faults;
  caPem: string;
  close(): Promise<void>;
}

export async function startSmsTestSandbox(o: { callbackDelayMs?: number } = {}): Promise<SmsTestSandbox> {
  const tls = await createTlsIdentity('127.0.0.1');
  const records = createDeliveryRecords();
  const faults = createFaults();
  const sim = await startSmsSimulator({
    host: '127.0.0.1', tls, records, faults, clock: Date.now, log: silentLogger(), callbackDelayMs: o.callbackDelayMs,
  });
  return { sim, records, faults, caPem: tls.certPem, close: () => sim.close() };
}

/** Every record of one To number, refused ones included unless told otherwise. */
export function smsRecordsOf(sb: SmsTestSandbox, to: string, includeRejected = true): ListedRecord[] {
  return sb.records.list({ channel: 'sms', target: to, limit: 10_000, includeRejected });
}

let numberCount = 0;
/** A fresh E.164 number per call, so each test finds its own records: +1555 then 7 digits. */
export function phoneNumber(prefix = '+1555'): string {
  numberCount++;
  const digits = String((numberCount * 7919 + Math.floor(Math.random() * 1000) * 100_003) % 10_000_000).padStart(7, '0');
  return prefix + digits;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/** One HTTPS request to the simulator. */
export function smsRequest(sb: SmsTestSandbox, method: string, path: string, headers: Record<string, string>, body: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(sb.sim.url + path, { method, headers, ca: sb.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('no answer within 5 s')));
    req.end(body);
  });
}

/** POST …/Messages.json with Basic auth of the issued account (or `auth`), the form as given. */
export function createMessage(sb: SmsTestSandbox, form: Record<string, string>,
  o: { auth?: string | null; sid?: string } = {}): Promise<RawAnswer> {
  const { account_sid, auth_token } = sb.sim.credentials;
  const auth = o.auth === undefined ? 'Basic ' + Buffer.from(`${account_sid}:${auth_token}`).toString('base64') : o.auth;
  return smsRequest(sb, 'POST', `/2010-04-01/Accounts/${o.sid ?? account_sid}/Messages.json`, {
    'content-type': 'application/x-www-form-urlencoded', ...(auth === null ? {} : { authorization: auth }),
  }, new URLSearchParams(form).toString());
}

/** One webhook as received. */
export interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  params: URLSearchParams;
}

export interface WebhookCollector {
  /** Base URL, e.g. http://127.0.0.1:40200; any path is accepted. */
  url: string;
  received: Received[];
  /** Statuses to answer the next requests with, in order; 204 once they run out. */
  answers: number[];
  /** Resolves once `n` webhooks have come to `path`, or rejects after `ms`. */
  waitFor(path: string, n: number, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startWebhookCollector(): Promise<WebhookCollector> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, params: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(answers.shift() ?? 204);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    answers,
    async waitFor(path, n, ms = 10_000) {
      const until = Date.now() + ms;
      for (;;) {
        const got = received.filter((r) => r.url === path);
        if (got.length >= n) return got;
        if (Date.now() > until) throw new Error(`${got.length} of ${n} webhooks to ${path} within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
