/**
 * The SMS simulator: Twilio's Messages API over HTTPS (HTTP/1.1, as api.twilio.com serves it),
 * checking as Twilio does (https://www.twilio.com/docs/messaging/api/message-resource,
 * rules in sms-checks.ts). It issues an account SID and auth token at start. Every create request
 * is recorded (records.ts, target = the To number) and may be made to fail on purpose by a fault
 * rule (faults.ts). After accepting a message it posts the status callbacks Twilio would, `sent`
 * then `delivered`, signed with X-Twilio-Signature, retrying a callback that fails a few times.
 *
 * A fault rule whose `reason` is a delivery error code (30001–30036, e.g. "30003") does not refuse
 * the request: the message is accepted (201) and its callbacks end in `undelivered` (or `failed`
 * for codes meaning it never left Twilio: 30001, 30002, 30034, 30036) with that ErrorCode. The
 * rule's `status` is required by the fault format but unused then.
 *
 * `sendInbound` posts a Twilio-style inbound-message webhook (a user replying, e.g. STOP), signed
 * the same way: the inspection API's POST /_sandbox/sms/inbound.
 *
 * Accounts are derived, one per Herald project: `accountFor(project_id)` gives an account SID made
 * with HMAC-SHA256 from a secret of this run, and every account's auth token is the HMAC of its SID.
 * The simulator accepts any account whose token is the one derived for its SID, and signs each
 * message's callbacks with the token of the account that sent it, so no token (the general account's
 * included) signs webhooks for any project but its own.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';
import { smsSegments } from '../domain/sms-segments.js';
import { twilioSignature } from '../providers/sms/signature.js';
import { urlHost } from './apns.js';
import type { DeliveryRecord } from './records.js';
import type { FaultRule } from './faults.js';
import { listenOnFreePort, maxKeptBodyBytes, readBody, type SimulatorContext } from './request-io.js';
import {
  accountOfPath, checkAuth, checkMessageForm, deliveryErrorOf, errorBody, faultRefusal, refusals, type CheckedMessage, type TwilioRefusal,
} from './sms-checks.js';

export interface SmsSimulatorOptions extends SimulatorContext {
  /** Pause before each status callback (default 20 ms): callbacks come after the 201, as at Twilio. */
  callbackDelayMs?: number | undefined;
}

/** The account the simulator issued and accepts. */
export interface SmsCredentials {
  account_sid: string;
  auth_token: string;
}

export interface InboundMessage {
  from: string;
  to: string;
  body: string;
  /** The webhook to post to (Herald's /v1/webhooks/sms/{project_id}/inbound). */
  url: string;
  /** The account the number belongs to; by default the one that last texted `from` (else the general account). */
  account_sid?: string | undefined;
}

/** What the webhook answered. */
export interface InboundResult {
  status: number;
  content_type: string | null;
  body: string;
}

export interface SmsSimulator {
  /** Base URL a client connects to, e.g. https://127.0.0.1:40115. */
  url: string;
  /** The general account, for clients other than Herald's projects: it signs nothing of theirs. */
  credentials: SmsCredentials;
  /** The account of one Herald project (its id), the same for the whole run. */
  accountFor(projectId: string): SmsCredentials;
  /** TLS connections accepted since start (tests check that a client reuses its connections). */
  readonly connectionsAccepted: number;
  /** Posts a signed inbound-message webhook; throws when the URL cannot be reached. */
  sendInbound(m: InboundMessage): Promise<InboundResult>;
  close(): Promise<void>;
}

/** The reason a dropped request is listed with (it got no answer, so Twilio has no code for it). */
export const droppedReason = 'ConnectionDropped';
/** The sender a message sent through a Messaging Service goes out from: one of Twilio's magic test numbers. */
export const serviceSenderNumber = '+15005550006';
/** Delays before the 2nd and 3rd tries of a callback that failed (Twilio retries some callbacks: https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides). */
export const callbackRetryDelaysMs = [250, 1_000] as const;
/** A callback without an answer by then counts as failed. */
const callbackTimeoutMs = 5_000;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Twilio's dates are RFC 2822: "Thu, 30 Jul 2015 20:12:31 +0000". */
const rfc2822 = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');

/** Numbers remembered for "the account that last texted them" (inbound replies): the oldest are forgotten past this. */
const maxRememberedNumbers = 100_000;

export async function startSmsSimulator(o: SmsSimulatorOptions): Promise<SmsSimulator> {
  const secret = randomBytes(32);
  const derive = (label: string, value: string) => createHmac('sha256', secret).update(`${label}\0${value}`).digest('hex').slice(0, 32);
  const tokenOf = (sid: string) => derive('auth_token', sid);
  const accountFor = (projectId: string): SmsCredentials => {
    const account_sid = `AC${derive('account_sid', projectId)}`;
    return { account_sid, auth_token: tokenOf(account_sid) };
  };
  const credentials = accountFor('general account (no project)');
  /** To number → the account that last texted it: whose number a reply is for. */
  const lastAccountOf = new Map<string, string>();
  const callbackDelayMs = o.callbackDelayMs ?? 20;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const aborts = new Set<AbortController>();
  let closed = false;
  let connectionsAccepted = 0;

  const later = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      timers.delete(t);
      resolve();
    }, ms);
    timers.add(t);
  });

  /** POSTs a signed form; resolves with the answer, throws when there is none. */
  const postSigned = async (url: string, params: Record<string, string>): Promise<InboundResult> => {
    const ac = new AbortController();
    aborts.add(ac);
    const timer = setTimeout(() => ac.abort(), callbackTimeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioSignature(tokenOf(params.AccountSid!), url, params),
          'user-agent': 'TwilioProxy/1.1',
        },
        body: new URLSearchParams(params).toString(),
        signal: ac.signal,
      });
      return { status: res.status, content_type: res.headers.get('content-type'), body: await res.text() };
    } finally {
      clearTimeout(timer);
      aborts.delete(ac);
    }
  };

  /** One callback, tried up to three times while it fails (no answer, or not a 2xx). */
  const postCallback = async (url: string, params: Record<string, string>): Promise<boolean> => {
    for (let attempt = 0; attempt <= callbackRetryDelaysMs.length && !closed; attempt++) {
      if (attempt > 0) await later(callbackRetryDelaysMs[attempt - 1]!);
      if (closed) return false;
      try {
        const r = await postSigned(url, params);
        if (r.status >= 200 && r.status < 300) return true;
      } catch {
        // unreachable or timed out: tried again below
      }
    }
    o.log.debug({ url, status: params.MessageStatus }, 'SMS simulator: status callback failed after retries');
    return false;
  };

  /** sent → delivered (or the fault's final status), each after a short pause, in order. */
  const runCallbacks = async (m: CheckedMessage, sid: string, accountSid: string, fault: ReturnType<typeof deliveryErrorOf>) => {
    if (!m.statusCallback) return;
    const base: Record<string, string> = {
      MessageSid: sid, SmsSid: sid, AccountSid: accountSid, To: m.to, From: m.from ?? serviceSenderNumber,
      ApiVersion: '2010-04-01',
    };
    if (m.messagingServiceSid) base.MessagingServiceSid = m.messagingServiceSid;
    // A message that never left Twilio goes straight to failed; one the carrier refused was sent first.
    const steps: Record<string, string>[] = fault?.finalStatus === 'failed' ? []
      : [{ MessageStatus: 'sent', SmsStatus: 'sent' }];
    steps.push(fault
      ? { MessageStatus: fault.finalStatus, SmsStatus: fault.finalStatus, ErrorCode: fault.errorCode }
      : { MessageStatus: 'delivered', SmsStatus: 'delivered' });
    for (const step of steps) {
      await later(callbackDelayMs);
      if (closed) return;
      await postCallback(m.statusCallback, { ...base, ...step });
    }
  };

  const send = (res: ServerResponse, record: DeliveryRecord, status: number, reason: string | null, body: string, retryAfterS: number | null = null) => {
    record.status = status;
    record.reason = reason;
    if (res.destroyed || res.writableEnded) return; // the client gave up; the record still shows the verdict
    const h: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8' };
    if (retryAfterS !== null) h['retry-after'] = retryAfterS;
    res.writeHead(status, h);
    res.end(body);
  };
  const refuse = (res: ServerResponse, record: DeliveryRecord, r: TwilioRefusal, retryAfterS: number | null = null) =>
    send(res, record, r.status, String(r.code), errorBody(r), retryAfterS);

  const accept = (res: ServerResponse, record: DeliveryRecord, accountSid: string, m: CheckedMessage, fault: ReturnType<typeof deliveryErrorOf>) => {
    const sid = `SM${hex(16)}`;
    lastAccountOf.delete(m.to);
    lastAccountOf.set(m.to, accountSid);
    if (lastAccountOf.size > maxRememberedNumbers) lastAccountOf.delete(lastAccountOf.keys().next().value!);
    const now = rfc2822(o.clock());
    const viaService = m.messagingServiceSid !== undefined;
    const resource = {
      account_sid: accountSid, api_version: '2010-04-01', body: m.body, date_created: now, date_sent: null,
      date_updated: now, direction: 'outbound-api', error_code: null, error_message: null,
      from: viaService && !m.from ? null : m.from, messaging_service_sid: m.messagingServiceSid ?? null, num_media: '0',
      num_segments: String(smsSegments(m.body).segments), price: null, price_unit: 'USD', sid,
      // "queued without a Messaging Service, accepted with one" (https://www.twilio.com/docs/messaging/api/message-resource).
      status: viaService ? 'accepted' : 'queued',
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
      to: m.to, uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    };
    send(res, record, 201, fault ? fault.errorCode : null, JSON.stringify(resource));
    void runCallbacks(m, sid, accountSid, fault);
  };

  const applyFault = (req: IncomingMessage, res: ServerResponse, record: DeliveryRecord, accountSid: string, m: CheckedMessage, rule: FaultRule) => {
    if (rule.drop_connection) {
      record.status = null;
      record.reason = droppedReason;
      req.socket.destroy();
      return;
    }
    const delivery = deliveryErrorOf(rule.reason);
    if (rule.status !== null && !delivery) return refuse(res, record, faultRefusal(rule.status, rule.reason), rule.retry_after_s);
    accept(res, record, accountSid, m, delivery); // a latency-only rule, or a delivery error reported by callback
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse, rawHeaders: string[], receivedAtMs: number, body: Buffer, size: number) => {
    const path = req.url ?? '';
    const form = new URLSearchParams(size > maxKeptBodyBytes ? '' : body.toString('utf8'));
    const record = o.records.open('sms', receivedAtMs, form.get('To') ?? '', rawHeaders);
    record.body = body;
    const pathSid = accountOfPath(path);
    if (pathSid === undefined) return refuse(res, record, refusals.notFound);
    if (req.method !== 'POST') return refuse(res, record, refusals.methodNotAllowed);
    // Every account is derived: its token is the one for the SID the path names.
    const denied = checkAuth(req.headers.authorization, pathSid, { account_sid: pathSid, auth_token: tokenOf(pathSid) });
    if (denied) return refuse(res, record, denied);
    if (size > maxKeptBodyBytes) return refuse(res, record, refusals.bodyTooLong);
    const checked = checkMessageForm(form);
    if (!('to' in checked)) return refuse(res, record, checked);
    const rule = o.faults.match('sms', record.target);
    if (!rule) return accept(res, record, pathSid, checked, undefined);
    if (rule.latency_ms === 0) return applyFault(req, res, record, pathSid, checked, rule);
    const t = setTimeout(() => {
      timers.delete(t);
      applyFault(req, res, record, pathSid, checked, rule);
    }, rule.latency_ms);
    timers.add(t);
  };

  const server = https.createServer({ key: o.tls.keyPem, cert: o.tls.certPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const receivedAtMs = o.clock();
    // Listed like an HTTP/2 request, pseudo-headers first and names in lower case (records.ts).
    const rawHeaders = [':method', req.method ?? '', ':path', req.url ?? ''];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) rawHeaders.push(req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!);
    readBody(req, (body, size) => onRequest(req, res, rawHeaders, receivedAtMs, body, size));
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    connectionsAccepted++;
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (err) => o.log.debug({ err }, 'SMS simulator: TLS error'));

  const port = await listenOnFreePort(server, o.host);
  const url = `https://${urlHost(o.host)}:${port}`;

  return {
    url,
    credentials,
    accountFor,
    get connectionsAccepted() {
      return connectionsAccepted;
    },
    sendInbound: (m) => {
      const sid = `SM${hex(16)}`;
      // A reply goes to the account whose number was texted: the one that last texted this user.
      const accountSid = m.account_sid ?? lastAccountOf.get(m.from) ?? credentials.account_sid;
      return postSigned(m.url, {
        MessageSid: sid, SmsSid: sid, SmsMessageSid: sid, AccountSid: accountSid, From: m.from, To: m.to, Body: m.body,
        NumMedia: '0', NumSegments: String(smsSegments(m.body).segments), SmsStatus: 'received', ApiVersion: '2010-04-01',
      });
    },
    close: async () => {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const a of aborts) a.abort();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}
