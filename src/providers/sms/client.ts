/**
 * The SMS sender: one message → one Twilio Messages API request (https://www.twilio.com/docs/messaging/api/message-resource)
 * → a DeliveryOutcome. Provider errors come back as data, never as exceptions. Speaks to Twilio or
 * to anything that answers like it (the sandbox's simulator), chosen per account by `endpoint`.
 *
 * twilio-node's lessons (twilio/twilio-node#210, PR #886): reuse connections (REST latency is mostly TLS set-up), and back off on
 * 429 by itself. Here every origin gets one keep-alive agent, every account a concurrency cap and a
 * token-bucket rate (the FCM sender's throttle: a 429 slows the whole account, not one message).
 */
import https from 'node:https';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { parseRetryAfter } from '../apns/outcome.js';
import { createProjectThrottle, type ProjectThrottle } from '../../domain/provider-throttle.js';
import { createSemaphore, type Semaphore } from './concurrency.js';
import { budgetShare, type Share } from '../../domain/process-share.js';
import { defaultRateLimitRetryMs, readTwilioAnswer, twilioOutcome } from './outcome.js';
import { portOfUrl } from '../../domain/network-address.js';
import { ForbiddenAddress, unguarded, type OutboundGuard, forbiddenOutcome } from '../outbound-guard.js';

/** Twilio's REST host (https://www.twilio.com/docs/messaging/api/message-resource). */
export const twilioOrigin = 'https://api.twilio.com';

/** A Twilio account (or one of the sandbox's), as the sender needs it. */
export interface SmsAccount {
  /** `AC` + 32 hex; the path names it and Basic auth carries it. */
  account_sid: string;
  auth_token: string;
  /** Base URL of a Twilio-compatible API (the sandbox's simulator); Twilio's own when absent. */
  endpoint?: string | undefined;
  /** This account's own client-side rate, when it differs from the sender's default. */
  messagesPerMinute?: number | undefined;
}

/** One SMS as the wire needs it. */
export interface SmsToSend {
  /** E.164, e.g. +15005550006. */
  to: string;
  /** The sending number; or `messagingServiceSid` (at least one of the two, https://www.twilio.com/docs/messaging/api/message-resource). */
  from?: string | undefined;
  messagingServiceSid?: string | undefined;
  body: string;
  /** Where Twilio posts the status callbacks (see smsStatusCallbackUrl in api/routes/sms-webhooks.ts). */
  statusCallback?: string | undefined;
  /** W3C Trace Context of the call (domain/trace-context.ts). */
  traceparent?: string | undefined;
}

export interface SmsSenderOptions {
  log: Logger;
  /**
   * The sandbox's certificate. Trusted (beside the public roots) only for accounts that name an
   * `endpoint`: connections to Twilio's own host never trust it.
   */
  ca?: string | undefined;
  /** A request without an answer by then is given up (provider_down). */
  requestTimeoutMs?: number | undefined;
  /** Requests one account may have open at once, across every worker process. */
  maxConcurrentPerAccount?: number | undefined;
  /** This process's share of each account's connections and rate, as worker processes come and go (domain/process-share.ts). */
  share?: Share | undefined;
  /** Client-side rate per account unless the account sets its own. */
  messagesPerMinute?: number | undefined;
  /** Sends an account may make at once after a quiet spell (default: one second of its rate). */
  burst?: number | undefined;
  /** A send the rate would hold longer than this goes back to the queue as a retry instead. */
  maxThrottleWaitMs?: number | undefined;
  /** Refuses endpoints (an account's base_url) on private networks; every endpoint is reachable without it. */
  guard?: OutboundGuard | undefined;
  clock?: (() => number) | undefined;
}

export interface SmsSender {
  send(account: SmsAccount, msg: SmsToSend): Promise<DeliveryOutcome>;
  close(): Promise<void>;
}

/**
 * Twilio documents no fixed REST rate; senders are limited per number instead (1 segment/s on a US
 * long code, 100+/s on a short code, queued up to 10 h, https://www.twilio.com/docs/messaging/api/message-resource). 100 requests/s per account keeps the
 * API itself far from 20429 while leaving the per-number pacing to Twilio's queue.
 */
export const defaultMessagesPerMinute = 6_000;
/** Twilio's default concurrent-request limit per account is about 100 (not verified against the live service); half of it leaves room for other clients. */
export const defaultMaxConcurrentPerAccount = 50;
/** Twilio answers a create in well under a second; 15 s is a stuck connection, not a slow API. */
export const defaultRequestTimeoutMs = 15_000;

/** Ends the reason of a provider_down whose request went out unanswered (see mayHaveBeenAccepted). */
export const mayHaveBeenAcceptedSuffix = ' (sent: Twilio may have accepted it)';

/**
 * True for an outcome whose request body reached the wire without an answer (timeout, reset, drop):
 * Twilio has no idempotency key for message creation, so sending again may text the user twice.
 * The worker records such a delivery as `unknown` rather than retrying it blindly.
 */
export function mayHaveBeenAccepted(o: DeliveryOutcome): boolean {
  return o.kind === 'provider_down' && o.reason.endsWith(mayHaveBeenAcceptedSuffix);
}

interface RawAnswer {
  status: number;
  retryAfter: string | undefined;
  body: Buffer;
}

/** The request got no answer. `sent`: its body was written, so Twilio may have accepted the message. */
class NoAnswer extends Error {
  constructor(message: string, readonly sent: boolean, readonly staleSocket: boolean) {
    super(message);
  }
}

/** The account's base_url is on a private network: refused before connecting, the account's own fault. */
const forbidden = forbiddenOutcome;

/** Node would not make the request (a URL or header it refuses): nothing left the process. */
class NotSent extends Error {
  constructor(cause: Error) {
    super(`the request could not be made (${cause.name}${(cause as NodeJS.ErrnoException).code ? ' ' + (cause as NodeJS.ErrnoException).code : ''})`);
  }
}

/** The account's API base as a URL the sender can use, or why not (stored before base_url was checked). */
function apiBase(endpoint: string | undefined): URL | string {
  let url: URL;
  try {
    url = new URL((endpoint ?? twilioOrigin).replace(/\/+$/, ''));
  } catch {
    return 'the account\'s base_url is not a URL';
  }
  // The auth token goes with every request: TLS only, as the credential check requires.
  if (url.protocol !== 'https:') return `the account's base_url must be https, not ${url.protocol.slice(0, -1)}`;
  return url;
}

export function createSmsSender(o: SmsSenderOptions): SmsSender {
  const clock = o.clock ?? Date.now;
  const requestTimeoutMs = o.requestTimeoutMs ?? defaultRequestTimeoutMs;
  const maxConcurrent = o.maxConcurrentPerAccount ?? defaultMaxConcurrentPerAccount;
  const agents = new Map<string, https.Agent>();
  const accounts = new Map<string, { throttle: ProjectThrottle; slots: Semaphore }>();
  // Passing `ca` replaces Node's roots, so the sandbox's certificate is added to them, not swapped in.
  const sandboxContext = o.ca ? tls.createSecureContext({ ca: [...tls.rootCertificates, o.ca].join('\n') }) : undefined;

  const guard = o.guard ?? unguarded;

  const agentFor = (origin: string): https.Agent => {
    let agent = agents.get(origin);
    if (!agent) {
      agent = new https.Agent({
        keepAlive: true,
        lookup: guard.lookupFor(portOfUrl(new URL(origin))),
        maxSockets: maxConcurrent, // the semaphore below holds this process to its share
        ...(origin !== twilioOrigin && sandboxContext ? { secureContext: sandboxContext } : {}),
      });
      agents.set(origin, agent);
    }
    return agent;
  };

  const accountState = (origin: string, account: SmsAccount) => {
    const key = `${origin} ${account.account_sid}`;
    let s = accounts.get(key);
    if (!s) {
      s = {
        throttle: createProjectThrottle({
          messagesPerMinute: account.messagesPerMinute ?? o.messagesPerMinute ?? defaultMessagesPerMinute,
          burst: o.burst,
          maxWaitMs: o.maxThrottleWaitMs ?? 5_000,
          share: o.share,
        }),
        slots: createSemaphore(() => budgetShare(maxConcurrent, o.share?.() ?? 1)),
      };
      accounts.set(key, s);
    }
    return s;
  };

  const post = (url: URL, agent: https.Agent, authorization: string, form: string, traceparent: string | undefined): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      let answered = false;
      let req: ReturnType<typeof https.request>;
      try {
        req = https.request(url, {
          method: 'POST',
          agent,
          headers: {
            authorization,
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(form),
            accept: 'application/json',
            ...(traceparent ? { traceparent } : {}),
          },
        }, (res) => {
          answered = true;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(deadline);
            const ra = res.headers['retry-after'];
            resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra, body: Buffer.concat(chunks) });
          });
          res.on('error', (err) => reject(new NoAnswer(`answer cut off: ${err.message}`, true, false)));
        });
      } catch (err) {
        // Thrown before anything was written (a header or URL Node refuses): this request's problem.
        reject(new NotSent(err instanceof Error ? err : new Error(String(err))));
        return;
      }
      const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${requestTimeoutMs} ms`)), requestTimeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        if (answered) return;
        if (err instanceof ForbiddenAddress) return reject(err);
        // A kept-alive socket the server had already closed: the request never reached it (Node's
        // documented case for `reusedSocket`), so sending it again on a fresh socket is safe.
        const stale = req.reusedSocket && err.code === 'ECONNRESET';
        reject(new NoAnswer(`no answer from ${url.origin}: ${err.message}`, req.writableFinished && !stale, stale));
      });
      req.end(form);
    });

  return {
    async send(account, msg) {
      const base = apiBase(account.endpoint);
      if (typeof base === 'string') return { kind: 'credentials_invalid', reason: base, local: true };
      const origin = (account.endpoint ?? twilioOrigin).replace(/\/+$/, '');
      const state = accountState(origin, account);
      const admission = state.throttle.admit(clock());
      if (admission.kind === 'hold') {
        return {
          kind: 'retry',
          reason: admission.paused ? '20429: the account is paused after a 429' : 'client-side rate limit of the account',
          retryAfterMs: admission.retryAfterMs,
        };
      }
      if (admission.waitMs > 0) await new Promise((r) => setTimeout(r, admission.waitMs));

      const url = new URL(`${origin}/2010-04-01/Accounts/${encodeURIComponent(account.account_sid)}/Messages.json`);
      try {
        guard.check(url.hostname, portOfUrl(url)); // a literal address: no lookup will see it
      } catch (err) {
        if (err instanceof ForbiddenAddress) return forbidden(err);
        throw err;
      }
      const form = new URLSearchParams({ To: msg.to, Body: msg.body });
      if (msg.from !== undefined) form.set('From', msg.from);
      if (msg.messagingServiceSid !== undefined) form.set('MessagingServiceSid', msg.messagingServiceSid);
      if (msg.statusCallback !== undefined) form.set('StatusCallback', msg.statusCallback);
      const authorization = 'Basic ' + Buffer.from(`${account.account_sid}:${account.auth_token}`).toString('base64');
      const agent = agentFor(origin);

      const release = await state.slots.acquire();
      let answer: RawAnswer;
      try {
        answer = await post(url, agent, authorization, form.toString(), msg.traceparent).catch((err: unknown) => {
          if (err instanceof NoAnswer && err.staleSocket) return post(url, agent, authorization, form.toString(), msg.traceparent);
          throw err;
        });
      } catch (err) {
        if (err instanceof ForbiddenAddress) return forbidden(err);
        if (err instanceof NotSent) return { kind: 'rejected', reason: err.message, local: true };
        if (!(err instanceof NoAnswer)) throw err;
        // Twilio has no idempotency key for message creation: after a body went out unanswered the
        // message may exist, and the reason says so for whoever decides on a retry.
        return { kind: 'provider_down', reason: err.sent ? err.message + mayHaveBeenAcceptedSuffix : err.message };
      } finally {
        release();
      }

      const retryAfterMs = parseRetryAfter(answer.retryAfter, clock());
      if (answer.status === 429) {
        // The account's request rate is spent: every send of the account waits, not only this one.
        const pauseMs = retryAfterMs ?? defaultRateLimitRetryMs;
        if (state.throttle.slowDown(clock(), pauseMs)) {
          o.log.warn({ accountSid: account.account_sid, pauseMs }, 'Twilio answered 429: account slowed down');
        }
      }
      return twilioOutcome(readTwilioAnswer(answer.status, answer.body), retryAfterMs);
    },
    async close() {
      for (const a of agents.values()) a.destroy();
      agents.clear();
    },
  };
}
