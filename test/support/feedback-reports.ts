/**
 * Report messages as mail systems send them, for the feedback parser and intake tests: delivery
 * status notifications laid out as the examples of RFC 3464 (its "Simple DSN" is
 * `rfc3464SimpleDsn`, verbatim but for its line breaks) and feedback reports as those of RFC 5965
 * Appendix B. Lines end with CRLF, as on the wire.
 */

const crlf = (lines: string[]) => lines.join('\r\n');

/** RFC 3464's "Simple DSN" example: one recipient, a transient failure (4.0.0), the original elided. */
export const rfc3464SimpleDsn = crlf([
  'Date: Thu, 7 Jul 1994 17:16:05 -0400',
  'From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>',
  'Message-Id: <199407072116.RAA14128@CS.UTK.EDU>',
  'Subject: Returned mail: Cannot send message for 5 days',
  'To: <owner-info-mime@cs.utk.edu>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/report; report-type=delivery-status;',
  '        boundary="RAA14128.773615765/CS.UTK.EDU"',
  '',
  '--RAA14128.773615765/CS.UTK.EDU',
  '',
  'The original message was received at Sat, 2 Jul 1994 17:10:28 -0400',
  'from root@localhost',
  '',
  '   ----- The following addresses had delivery problems -----',
  '<louisl@larry.slip.umd.edu>  (unrecoverable error)',
  '',
  '   ----- Transcript of session follows -----',
  '<louisl@larry.slip.umd.edu>... Deferred: Connection timed out',
  '        with larry.slip.umd.edu.',
  'Message could not be delivered for 5 days',
  'Message will be deleted from queue',
  '',
  '--RAA14128.773615765/CS.UTK.EDU',
  'content-type: message/delivery-status',
  '',
  'Reporting-MTA: dns; cs.utk.edu',
  '',
  'Original-Recipient: rfc822;louisl@larry.slip.umd.edu',
  'Final-Recipient: rfc822;louisl@larry.slip.umd.edu',
  'Action: failed',
  'Status: 4.0.0',
  'Diagnostic-Code: smtp; 426 connection timed out',
  'Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400',
  '',
  '--RAA14128.773615765/CS.UTK.EDU',
  'content-type: message/rfc822',
  '',
  '[original message goes here]',
  '',
  '--RAA14128.773615765/CS.UTK.EDU--',
  '',
]);

export interface DsnRecipient {
  final: string;
  original?: string;
  action: string;
  status: string;
  /** Folded over two lines when it holds a line break. */
  diagnostic?: string;
}

/**
 * A DSN from an MTA that took the message from Herald and failed later: its per-recipient groups,
 * and the original returned as a whole message (message/rfc822), as its header block only
 * (text/rfc822-headers), or not at all. `base64` sends the delivery-status part base64-encoded.
 */
export function dsn(o: { recipients: DsnRecipient[]; messageId?: string; returned?: 'message' | 'headers' | 'none'; base64?: boolean }): string {
  const boundary = '=_dsn 8b1c/42';
  const fields = crlf([
    'Reporting-MTA: dns; mx.example.net',
    'Arrival-Date: Thu, 3 Dec 2026 10:00:00 +0000',
    ...o.recipients.flatMap((r) => [
      '',
      ...(r.original ? [`Original-Recipient: rfc822;${r.original}`] : []),
      `Final-Recipient: rfc822; ${r.final}`,
      `Action: ${r.action}`,
      `Status: ${r.status}`,
      ...(r.diagnostic ? [`Diagnostic-Code: smtp; ${r.diagnostic.replace(/\n/g, '\r\n    ')}`] : []),
    ]),
    '',
  ]);
  const originalHeaders = [
    'From: Herald Example <news@herald.example.com>',
    `To: ${o.recipients[0]?.original ?? o.recipients[0]?.final ?? 'nobody@example.com'}`,
    'Subject: Your weekly news',
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
  ];
  const returned = o.returned ?? 'message';
  return crlf([
    'From: Mail Delivery System <MAILER-DAEMON@mx.example.net>',
    'To: bounces@herald.example.com',
    'Subject: Undelivered Mail Returned to Sender',
    'Message-ID: <20261203100000.AB12@mx.example.net>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'I\'m sorry to have to inform you that your message could not be delivered.',
    'Action: failed',
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    ...(o.base64 ? ['Content-Transfer-Encoding: base64', '', ...Buffer.from(fields).toString('base64').match(/.{1,76}/g)!] : ['', fields]),
    ...(returned === 'none' ? [] : [
      `--${boundary}`,
      returned === 'message' ? 'Content-Type: message/rfc822' : 'Content-Type: text/rfc822-headers',
      '',
      ...originalHeaders,
      ...(returned === 'message' ? ['', 'Hello, here is the news.'] : []),
      '',
    ]),
    `--${boundary}--`,
    '',
  ]);
}

/**
 * A feedback report laid out as RFC 5965 Appendix B.2 (the one with optional fields): the mailbox
 * provider's note, the machine-readable part, and the original message.
 */
export function arf(o: { feedbackType?: string; rcptTo?: string; messageId?: string }): string {
  const boundary = 'part1_13d.2e68ed54_boundary';
  return crlf([
    'From: <abusedesk@example.com>',
    'Date: Thu, 8 Mar 2005 17:40:36 EDT',
    'Subject: FW: Your weekly news',
    'To: <abuse@herald.example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report;',
    `     boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information',
    'about this format please see http://www.mipassoc.org/arf/.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    ...(o.feedbackType === '' ? [] : [`Feedback-Type: ${o.feedbackType ?? 'abuse'}`]),
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    'Original-Mail-From: <bounces@herald.example.com>',
    ...(o.rcptTo ? [`Original-Rcpt-To: <${o.rcptTo}>`] : []),
    'Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT',
    'Reporting-MTA: dns; mail.example.com',
    'Source-IP: 192.0.2.1',
    'Authentication-Results: mail.example.com;',
    '               spf=fail smtp.mail=somespammer@example.com',
    'Reported-Domain: herald.example.com',
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    'Received: from mailserver.example.net',
    '        (mailserver.example.net [192.0.2.1])',
    '        by example.com with ESMTP id M63d4137594e46;',
    '        Thu, 08 Mar 2005 14:00:00 -0400',
    'From: <news@herald.example.com>',
    `To: <${o.rcptTo ?? 'Undisclosed Recipients'}>`,
    'Subject: Your weekly news',
    'MIME-Version: 1.0',
    'Content-type: text/plain',
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'Date: Thu, 02 Sep 2004 12:31:03 -0500',
    '',
    'Hello, here is the news.',
    `--${boundary}--`,
    '',
  ]);
}
