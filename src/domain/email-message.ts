/**
 * One email as Herald sends it, built from plain data (pure; the SMTP client in
 * src/providers/email/ hands the result to nodemailer). What every message carries and why
 * (RFC 6376, RFC 8058, https://support.google.com/a/answer/14229414):
 *
 * - a Message-ID made from the delivery id, the same on every attempt, so a re-send after a crash
 *   is recognisable as the same message (by Herald's records and by receivers that deduplicate);
 * - RFC 8058 one-click unsubscribe: `List-Unsubscribe` with an HTTPS URI (plus an optional mailto)
 *   and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, both to be covered by the DKIM
 *   signature (see dkimSignedHeaders). Gmail and Yahoo require it of bulk senders since 2024.
 */
import { domainOf, isEmailAddress } from './email-address.js';

export interface EmailToSend {
  /** The delivery this attempt belongs to; the Message-ID is made from it. */
  deliveryId: string;
  from: { name?: string | undefined; address: string };
  to: string;
  replyTo?: string | undefined;
  subject: string;
  /** At least one of html and text. */
  html?: string | undefined;
  text?: string | undefined;
  /** The HTTPS one-click URL, `unsubscribeUrl(publicBaseUrl, token)`. */
  unsubscribeUrl: string;
  /** An optional `mailto:` alternative (RFC 2369), e.g. `mailto:unsubscribe@example.com?subject=…`. */
  unsubscribeMailto?: string | undefined;
}

/** The message, checked and with its derived headers, ready for an SMTP client. */
export interface BuiltEmail {
  envelope: { from: string; to: string };
  from: { name: string; address: string };
  to: string;
  replyTo: string | undefined;
  subject: string;
  html: string | undefined;
  text: string | undefined;
  /** With its angle brackets: `<delivery-id@from-domain>`. */
  messageId: string;
  /** Set verbatim on one line each: a folded List-Unsubscribe broke DKIM at one MTA (nodemailer #1654). */
  headers: { 'List-Unsubscribe': string; 'List-Unsubscribe-Post': string };
}

export type EmailBuild = { ok: true; email: BuiltEmail } | { ok: false; reason: string };

/** RFC 8058 §3.1: the value must be exactly this. */
export const oneClickValue = 'List-Unsubscribe=One-Click';

/**
 * The header fields a DKIM signature must cover. nodemailer's default list is set explicitly
 * because RFC 8058 §4 only honours one-click when the signature covers both List-Unsubscribe
 * fields, and a copy of nodemailer's default once lacked List-Unsubscribe-Post (nodemailer/nodemailer#1654).
 */
export const dkimSignedHeaders = [
  'From', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'To', 'Cc', 'MIME-Version', 'Content-Type',
  'Content-Transfer-Encoding', 'List-Id', 'List-Unsubscribe', 'List-Unsubscribe-Post',
].join(':');

/** RFC 5322 §2.1.1: a line is at most 998 characters; one-line headers must fit. */
const maxHeaderLine = 998;
/** The delivery id goes into the Message-ID's left part (RFC 5322 §3.6.4 dot-atom-text). */
const deliveryIdPattern = /^[A-Za-z0-9._-]{1,200}$/;
const lineBreak = /[\r\n]/;

/**
 * The one-click URL for a token made by domain/unsubscribe-token.ts. `deliveryId` (`?d=`) names
 * the delivery the link was sent in, so the unsubscribe is counted for its campaign or group
 * (docs/analytics.md); it is not signed, and counts only for a delivery to the token's address.
 */
export function unsubscribeUrl(publicBaseUrl: string, token: string, deliveryId?: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/v1/email/unsubscribe/${token}${deliveryId ? `?d=${deliveryId}` : ''}`;
}

/** A tracking link's URL (open pixel or click redirect) for a token made by domain/tracking-token.ts. */
export function trackingUrl(publicBaseUrl: string, token: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/r/${token}`;
}

export function buildEmail(m: EmailToSend): EmailBuild {
  const refuse = (reason: string): EmailBuild => ({ ok: false, reason });
  if (!deliveryIdPattern.test(m.deliveryId)) return refuse('the delivery id cannot make a Message-ID');
  if (!isEmailAddress(m.from.address)) return refuse('the From address is not an email address');
  if (!isEmailAddress(m.to)) return refuse('the recipient is not an email address');
  if (m.replyTo !== undefined && !isEmailAddress(m.replyTo)) return refuse('the Reply-To address is not an email address');
  // Header injection: a line break in a header value would start a header of the sender's choosing.
  if (lineBreak.test(m.subject) || lineBreak.test(m.from.name ?? '')) return refuse('the subject and sender name must be one line');
  if (m.html === undefined && m.text === undefined) return refuse('the message needs an html or a text part');
  let url: URL;
  try {
    url = new URL(m.unsubscribeUrl);
  } catch {
    return refuse('the unsubscribe URL is not a URL');
  }
  // RFC 8058 §3.1: one-click needs an HTTPS URI; receivers ignore the POST header otherwise.
  if (url.protocol !== 'https:') return refuse('the unsubscribe URL must be https (RFC 8058)');
  if (m.unsubscribeMailto !== undefined && !/^mailto:[^\s<>]+$/.test(m.unsubscribeMailto)) return refuse('the unsubscribe mailto is not a mailto: URI');
  const listUnsubscribe = [`<${m.unsubscribeUrl}>`, ...(m.unsubscribeMailto ? [`<${m.unsubscribeMailto}>`] : [])].join(', ');
  if ('List-Unsubscribe: '.length + listUnsubscribe.length > maxHeaderLine) return refuse('the List-Unsubscribe header would exceed one line of 998 characters');
  return {
    ok: true,
    email: {
      envelope: { from: m.from.address, to: m.to },
      from: { name: m.from.name ?? '', address: m.from.address },
      to: m.to,
      replyTo: m.replyTo,
      subject: m.subject,
      html: m.html,
      text: m.text,
      messageId: `<${m.deliveryId}@${domainOf(m.from.address)}>`,
      headers: { 'List-Unsubscribe': listUnsubscribe, 'List-Unsubscribe-Post': oneClickValue },
    },
  };
}

/** A pattern for text that becomes a mail header: one line, no CR or LF (RFC 5322 §2.2). */
export const oneLine = '^[^\\r\\n]*$';
