/**
 * The email sender: one message → one SMTP submission → a DeliveryOutcome, with the same contract
 * as the APNs, FCM and Web Push senders (provider errors come back as data, never as exceptions).
 *
 * https://nodemailer.com/smtp/pooled: a transporter is created once per SMTP account and reused
 * (one per message exhausts the server's connection limit: "421 too many connections"); nodemailer's
 * pool keeps up to `maxConnections` connections open and renews each after `maxMessages`. Its own
 * rateLimit is checked after a send and is not global across connections (#768, #827), so the
 * account's rate is kept here, with the token bucket the FCM sender uses.
 */
import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { buildEmail, dkimSignedHeaders, type BuiltEmail, type EmailToSend } from '../../domain/email-message.js';
import { createProjectThrottle, type ProjectThrottle } from '../../domain/provider-throttle.js';
import { budgetShare, type Share } from '../../domain/process-share.js';
import { smtpOutcome, type SmtpFailure } from './outcome.js';
import { ForbiddenAddress, type OutboundGuard, forbiddenOutcome } from '../outbound-guard.js';
import { guardedSmtpSocket } from './guarded-socket.js';

export type { EmailToSend } from '../../domain/email-message.js';

/** An SMTP submission account and the DKIM key its mail is signed with. */
export interface SmtpAccount {
  host: string;
  port: number;
  /** 'tls': TLS from the first byte (port 465); 'starttls': plain, then STARTTLS, which is required. */
  security: 'tls' | 'starttls';
  username: string;
  password: string;
  /**
   * DKIM signing for the From domain. Optional because a relay (SES, SendGrid…) may sign itself;
   * Gmail and Yahoo refuse bulk mail that no aligned signature covers (https://support.google.com/a/answer/14229414).
   */
  dkim?: { domain: string; selector: string; privateKeyPem: string } | undefined;
  /** The account's sending quota; defaultMessagesPerMinute when absent. */
  messagesPerMinute?: number | undefined;
}

export interface EmailSenderOptions {
  log: Logger;
  /** A CA to trust instead of the system's (the sandbox's certificate): give it to the sandbox's sender only. */
  ca?: string | undefined;
  /** Connections per account across every worker process (nodemailer's default is 5). */
  maxConnections?: number | undefined;
  /** Messages a connection carries before it is renewed (nodemailer's default is 100). */
  maxMessages?: number | undefined;
  /** Per-account rate when the account names none. */
  messagesPerMinute?: number | undefined;
  /** A send the rate limit would hold longer than this goes back to the queue as a retry. */
  maxThrottleWaitMs?: number | undefined;
  /** One send, queueing in the pool included, gives up after this long (provider_down). */
  sendTimeoutMs?: number | undefined;
  /** This process's share of each account's connections and rate, as worker processes come and go (domain/process-share.ts). */
  share?: Share | undefined;
  /** Refuses SMTP hosts on private networks; every host is reachable without it. */
  guard?: OutboundGuard | undefined;
  clock?: (() => number) | undefined;
}

export interface EmailSender {
  /** Sends `msg` through `account`; resolves to the outcome, never rejects for SMTP or network failures. */
  send(account: SmtpAccount, msg: EmailToSend): Promise<DeliveryOutcome>;
  /** Closes every account's pool. */
  close(): Promise<void>;
}

/** 10 a second: about what a mid-sized ESP account allows by default; accounts with more say so. */
export const defaultMessagesPerMinute = 600;
/**
 * Under the worker's 45 s job lease, so a send that hangs (a server trickling its replies, which no
 * socket timeout notices) is given up before the job would be handed to another worker.
 */
const defaultSendTimeoutMs = 30_000;
/** RFC 5321 §4.5.3.2 lets a server take minutes; a submission server that needs over 10 s to greet is down. */
const connectionTimeoutMs = 10_000;
const greetingTimeoutMs = 10_000;
/** An idle pooled connection is closed after this (nodemailer has no TTL; #1151). */
const idleTimeoutMs = 60_000;

type Transporter = ReturnType<typeof nodemailer.createTransport>;

export function createEmailSender(o: EmailSenderOptions): EmailSender {
  const clock = o.clock ?? Date.now;
  const pools = new Map<string, Transporter>();
  const throttles = new Map<string, ProjectThrottle>();

  // The password is part of the key (hashed, so it is not kept in clear twice): a changed password
  // gets a new pool instead of failing on connections logged in with the old one.
  const keyOf = (a: SmtpAccount) => [a.host, a.port, a.security, a.username, createHash('sha256').update(a.password).digest('base64url')].join('|');

  const poolFor = (key: string, a: SmtpAccount): Transporter => {
    let t = pools.get(key);
    if (!t) {
      t = nodemailer.createTransport({
        pool: true,
        host: a.host,
        port: a.port,
        secure: a.security === 'tls',
        // Never send the password in clear: with 'starttls' a server that does not offer it is refused.
        requireTLS: a.security === 'starttls',
        auth: { user: a.username, pass: a.password },
        // A pool's size is fixed when it is made: this process's share at that time.
        maxConnections: budgetShare(o.maxConnections ?? 5, o.share?.() ?? 1),
        maxMessages: o.maxMessages ?? 100,
        // One more try on a fresh connection when a pooled one closes under a message (the server
        // dropped an idle connection); more would hide an outage and send the same message again.
        maxRequeues: 1,
        idleTimeout: idleTimeoutMs,
        connectionTimeout: connectionTimeoutMs,
        greetingTimeout: greetingTimeoutMs,
        socketTimeout: o.sendTimeoutMs ?? defaultSendTimeoutMs,
        tls: { minVersion: 'TLSv1.2', ...(o.ca ? { ca: o.ca } : {}) },
        // Messages are built from data; nothing may make the client read a file or fetch a URL.
        disableFileAccess: true,
        disableUrlAccess: true,
        logger: false,
        ...(o.guard ? { getSocket: guardedSmtpSocket(o.guard, connectionTimeoutMs) } : {}),
      });
      t.on('error', (err: Error) => o.log.warn({ err, host: a.host }, 'SMTP pool error'));
      pools.set(key, t);
    }
    return t;
  };

  const throttleFor = (key: string, a: SmtpAccount): ProjectThrottle => {
    let t = throttles.get(key);
    if (!t) {
      t = createProjectThrottle({
        messagesPerMinute: a.messagesPerMinute ?? o.messagesPerMinute ?? defaultMessagesPerMinute, maxWaitMs: o.maxThrottleWaitMs ?? 5_000, share: o.share,
      });
      throttles.set(key, t);
    }
    return t;
  };

  const mailOf = (a: SmtpAccount, e: BuiltEmail, signal: AbortSignal) => ({
    envelope: e.envelope,
    from: e.from,
    to: e.to,
    replyTo: e.replyTo,
    subject: e.subject,
    html: e.html,
    text: e.text,
    messageId: e.messageId,
    headers: {
      'List-Unsubscribe': { prepared: true, value: e.headers['List-Unsubscribe'] },
      'List-Unsubscribe-Post': { prepared: true, value: e.headers['List-Unsubscribe-Post'] },
    },
    dkim: a.dkim
      ? { domainName: a.dkim.domain, keySelector: a.dkim.selector, privateKey: a.dkim.privateKeyPem, headerFieldNames: dkimSignedHeaders }
      : undefined,
    signal,
  });

  return {
    async send(account, msg) {
      const built = buildEmail(msg);
      if (!built.ok) return { kind: 'rejected', reason: built.reason };
      const key = keyOf(account);
      const admission = throttleFor(key, account).admit(clock());
      if (admission.kind === 'hold') return { kind: 'retry', reason: 'client-side rate limit of the SMTP account', retryAfterMs: admission.retryAfterMs };
      if (admission.waitMs > 0) await new Promise((r) => setTimeout(r, admission.waitMs));

      const signal = AbortSignal.timeout(o.sendTimeoutMs ?? defaultSendTimeoutMs);
      try {
        const info = await poolFor(key, account).sendMail(mailOf(account, built.email, signal));
        return { kind: 'delivered', providerId: info.response };
      } catch (err) {
        // The account's host is on a private network, refused before connecting: not a server outage.
        if (err instanceof ForbiddenAddress) return forbiddenOutcome(err);
        if (!isSmtpFailure(err)) throw err;
        if (signal.aborted) return { kind: 'provider_down', reason: `no answer within ${o.sendTimeoutMs ?? defaultSendTimeoutMs} ms` };
        return smtpOutcome(err);
      }
    },
    async close() {
      for (const t of pools.values()) t.close();
      pools.clear();
    },
  };
}

/** nodemailer's errors carry a code or an SMTP reply; a TypeError and the like is a bug, not an outcome. */
function isSmtpFailure(err: unknown): err is SmtpFailure & Error {
  if (!(err instanceof Error)) return false;
  const e = err as Error & SmtpFailure;
  if (e.code !== undefined || e.responseCode !== undefined) return true;
  return !(err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof SyntaxError);
}
