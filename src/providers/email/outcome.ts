/**
 * An SMTP submission's failure → Herald's DeliveryOutcome (RFC 3463,
 * RFC 3464). Pure: it reads the fields nodemailer puts on its errors (`responseCode`,
 * `command`, `code`, `response`), so outcome.test.ts checks every case without a server.
 *
 * - 5xx at RCPT naming the mailbox (550/551/553, or an RFC 3463 5.1.x / 5.2.1 status at any step):
 *   a hard bounce; the address goes on the suppression list.
 * - 4xx (421, 450, 451, 452, 454…): transient; retry with backoff.
 * - 535 and friends: our SMTP login is wrong; every send on the account fails until fixed.
 * - other 5xx (552 too large, 554 refused content, 5.7.x policy): this message is refused for good.
 * - no reply at all (refused connection, timeout, dropped socket, greeting failure): provider_down.
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';

/** What the mapping reads from a nodemailer error (its NodemailerError fields). */
export interface SmtpFailure {
  message: string;
  /** nodemailer's code (ECONNECTION, ETIMEDOUT, EAUTH, EENVELOPE, EMESSAGE…) or a socket errno. */
  code?: string | undefined;
  /** The SMTP reply code, when the server answered. */
  responseCode?: number | undefined;
  /** The command the reply answered: 'RCPT TO', 'DATA', 'AUTH PLAIN', 'CONN'… */
  command?: string | undefined;
  /** The server's reply line(s), e.g. "550 5.1.1 No such user". */
  response?: string | undefined;
}

/** Reply codes that refuse the login itself (RFC 4954 §6, RFC 5321 §4.2.3). */
const credentialCodes = new Set([530, 534, 535, 538]);
/** RFC 3463 statuses about the mailbox, not the message: bad mailbox/system/syntax, moved, disabled. */
const deadMailbox = /^5\.1\.(1|2|3|6|10)$|^5\.2\.1$/;
/** The reply codes RFC 5321 §4.2.2 gives RCPT for "no such mailbox". */
const rcptMailboxCodes = new Set([550, 551, 553]);
/** Longest excerpt of the server's reply kept in a reason: enough for an operator, no more. */
const maxReasonChars = 300;

/** The enhanced status code (RFC 3463) at the start of a reply's text, if any. */
export function enhancedStatus(response: string | undefined): string | undefined {
  return response?.match(/^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/)?.[1];
}

function reasonOf(f: SmtpFailure): string {
  const text = (f.response ?? f.message).replace(/\s+/g, ' ').trim();
  const at = f.command ? ` (at ${f.command})` : '';
  return (text.length > maxReasonChars ? text.slice(0, maxReasonChars) + '…' : text) + at;
}

export function smtpOutcome(f: SmtpFailure): DeliveryOutcome {
  const status = f.responseCode;
  const reason = reasonOf(f);
  if (status === undefined) {
    // No SMTP reply: the failure is the connection's or ours.
    if (f.code === 'EAUTH' || f.code === 'ENOAUTH') return { kind: 'credentials_invalid', reason };
    // A DKIM key nodemailer cannot sign with, and other account settings: an operator must fix them.
    if (f.code === 'ECONFIG') return { kind: 'credentials_invalid', reason };
    // An address nodemailer refuses to put in an envelope: the same on every attempt.
    if (f.code === 'EENVELOPE') return { kind: 'rejected', reason };
    // ECONNECTION, ETIMEDOUT (connect, greeting, socket), ESOCKET (refused, reset), EDNS, ETLS, EPROTOCOL:
    // the server is unreachable or broke the session; the message may go through later.
    return { kind: 'provider_down', reason };
  }
  const command = f.command?.toUpperCase() ?? '';
  if (credentialCodes.has(status) || (command.startsWith('AUTH') && status >= 500)) return { kind: 'credentials_invalid', reason, status };
  if (status >= 400 && status < 500) return { kind: 'retry', reason, status };
  if (status >= 500 && status < 600) {
    const enhanced = enhancedStatus(f.response);
    if (enhanced !== undefined && deadMailbox.test(enhanced)) return { kind: 'token_invalid', reason, status };
    // 5.7.x at RCPT is policy (relaying denied, sender blocked), not a dead mailbox.
    const policy = enhanced?.startsWith('5.7.') ?? false;
    if (command === 'RCPT TO' && rcptMailboxCodes.has(status) && !policy) return { kind: 'token_invalid', reason, status };
    // 503 "bad sequence of commands" is about the session, not the message (nodemailer: not permanent).
    if (status === 503) return { kind: 'retry', reason, status };
    return { kind: 'rejected', reason, status };
  }
  // A 2xx or 3xx where the client expected another reply: the server misbehaves.
  return { kind: 'provider_down', reason, status };
}
