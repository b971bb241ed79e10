/**
 * The delivery status notification (RFC 3464) a relay sends back when it accepted a message and
 * then failed to deliver it: what the SMTP simulator keeps for a fault rule with `dsn` (docs/sandbox.md),
 * so a test can post it to POST /v1/email/feedback as an MTA would. Laid out as RFC 3464's
 * examples: a human-readable part, the message/delivery-status part, and the original's header
 * fields (text/rfc822-headers, RFC 6522 §3), which carry Herald's Message-ID.
 */
import { randomBytes } from 'node:crypto';

export interface DsnInput {
  /** The simulator's host name, the Reporting-MTA. */
  reportingMta: string;
  /** The envelope sender the DSN goes back to (MAIL FROM). */
  mailFrom: string;
  recipient: string;
  /** The SMTP reply code the fault names (4yz: delayed, 5yz: failed) and its text ("5.1.1 …"). */
  code: number;
  text: string;
  /** The original message as received: its header block is returned. */
  original: Buffer;
  arrivalMs: number;
}

export function buildDsn(d: DsnInput): string {
  const boundary = `dsn-${randomBytes(8).toString('hex')}`;
  const permanent = d.code >= 500;
  const enhanced = /^([245]\.\d{1,3}\.\d{1,3})\b/.exec(d.text)?.[1] ?? (permanent ? '5.0.0' : '4.0.0');
  const raw = d.original.toString('utf8');
  const end = raw.search(/\r?\n\r?\n/);
  const headers = (end < 0 ? raw : raw.slice(0, end)).replace(/\r?\n/g, '\r\n');
  const date = new Date(d.arrivalMs).toUTCString().replace('GMT', '+0000');
  return [
    `From: Mail Delivery Subsystem <MAILER-DAEMON@${d.reportingMta}>`,
    `To: <${d.mailFrom}>`,
    `Subject: ${permanent ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)'}`,
    `Date: ${date}`,
    `Message-ID: <${boundary}@${d.reportingMta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    permanent ? `Your message to <${d.recipient}> could not be delivered.` : `Your message to <${d.recipient}> is delayed; delivery is still being tried.`,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    `Reporting-MTA: dns; ${d.reportingMta}`,
    `Arrival-Date: ${date}`,
    '',
    `Final-Recipient: rfc822; ${d.recipient}`,
    `Action: ${permanent ? 'failed' : 'delayed'}`,
    `Status: ${enhanced}`,
    `Diagnostic-Code: smtp; ${d.code} ${d.text}`,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    headers,
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
