/**
 * What a strict receiving server (Gmail, Yahoo; RFC 8058 and
 * https://support.google.com/a/answer/14229414) requires of a bulk message, as pure rules over facts the SMTP
 * simulator gathers (mailparser for the headers, mailauth for the DKIM verdicts). Each refusal is
 * the SMTP reply such a server gives, enhanced status code (RFC 3463) first in its text.
 */

export interface SmtpRefusal {
  code: number;
  /** The reply text after the code, starting with the enhanced status code. */
  text: string;
}

export interface DkimVerdict {
  /** The signature's d= domain. */
  domain: string;
  /** mailauth's result: pass, fail, neutral, policy, temperror… */
  result: string;
  /** Whether d= is aligned with the From domain (DMARC relaxed alignment, RFC 7489 §3.1.1). */
  aligned: boolean;
  /** The header fields the signature covers and that the message has, lower-case. */
  signedHeaders: string[];
}

export interface MessageFacts {
  /** Every header field in order: name lower-case, value unfolded and trimmed. */
  headers: { key: string; value: string }[];
  /** The addresses of the From field(s). */
  fromAddresses: string[];
  signatures: DkimVerdict[];
}

const oneClickValue = 'List-Unsubscribe=One-Click';

/** 550 5.7.1: refused by policy, with the rule named. */
const policy = (text: string): SmtpRefusal => ({ code: 550, text: `5.7.1 ${text}` });

/** The first rule the message breaks, in the order a receiver checks them, or undefined. */
export function checkMessage(f: MessageFacts): SmtpRefusal | undefined {
  const all = (key: string) => f.headers.filter((h) => h.key === key);

  // RFC 5322 §3.6: exactly one From and one Date; Gmail also refuses a message without Message-ID.
  if (all('from').length !== 1 || f.fromAddresses.length !== 1) {
    return policy('Messages must have exactly one From header with one address (RFC 5322 section 3.6).');
  }
  const date = all('date');
  if (date.length !== 1 || Number.isNaN(Date.parse(date[0]!.value))) {
    return policy('Messages must have exactly one valid Date header (RFC 5322 section 3.6.1).');
  }
  const messageId = all('message-id');
  if (messageId.length !== 1 || !/^<[^<>@\s]+@[^<>@\s]+>$/.test(messageId[0]!.value)) {
    return policy('Messages missing a valid Message-ID header are not accepted (RFC 5322 section 3.6.4).');
  }

  // Google's wording for unauthenticated mail (its "5.7.26" replies), DKIM being the only way here.
  const passing = f.signatures.filter((s) => s.result === 'pass');
  if (passing.length === 0) {
    const why = f.signatures.length === 0 ? 'it has no DKIM signature' : 'no DKIM signature verifies';
    return { code: 550, text: `5.7.26 This message is not authenticated: ${why}. Sign it with the DKIM key the sandbox issued.` };
  }
  const aligned = passing.filter((s) => s.aligned);
  if (aligned.length === 0) {
    return {
      code: 550,
      text: `5.7.26 Unauthenticated email from ${domainOf(f.fromAddresses[0]!)} is not accepted: no valid DKIM signature is aligned with the From domain (DMARC, RFC 7489 section 3.1).`,
    };
  }

  // RFC 8058 one-click unsubscribe, required of bulk senders by Gmail and Yahoo since 2024.
  const unsubscribe = all('list-unsubscribe');
  const post = all('list-unsubscribe-post');
  if (unsubscribe.length !== 1 || !/<https:\/\/[^>]+>/i.test(unsubscribe[0]!.value)) {
    return policy('Bulk mail must carry one List-Unsubscribe header with an https URI (RFC 8058 section 3.1).');
  }
  if (post.length !== 1 || post[0]!.value !== oneClickValue) {
    return policy(`Bulk mail must carry one List-Unsubscribe-Post header whose value is exactly "${oneClickValue}" (RFC 8058 section 3.1).`);
  }
  const covering = aligned.find((s) => s.signedHeaders.includes('list-unsubscribe') && s.signedHeaders.includes('list-unsubscribe-post'));
  if (!covering) {
    return policy('The DKIM signature must cover List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 section 4).');
  }
  return undefined;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * The text a fault rule answers when it names no reason: the wording of Gmail's replies where it
 * is known, a plain RFC 3463 status otherwise.
 */
export function faultText(code: number, reason: string | null): string {
  if (reason !== null) return reason;
  switch (code) {
    case 421: return '4.7.0 Try again later, closing connection.';
    case 450: return '4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time.';
    case 451: return '4.3.0 Mail server temporarily rejected message.';
    case 452: return '4.2.2 The email account that you tried to reach is over quota.';
    case 550: return '5.1.1 The email account that you tried to reach does not exist.';
    case 551: return '5.1.6 The recipient is not local to this server.';
    case 552: return '5.3.4 Your message exceeded Google\'s message size limits.';
    case 553: return '5.1.3 The recipient address is not a valid RFC 5321 address.';
    case 554: return '5.7.1 The message was rejected because of its content.';
    default: return code < 500 ? '4.0.0 Temporary failure, try again later.' : '5.0.0 Permanent failure.';
  }
}

/**
 * When a fault answers: message-level refusals (552 too large, 554 content) come after DATA, as a
 * real server only knows them once it has the message; every other code answers the RCPT.
 */
export function faultAnswersAtData(code: number): boolean {
  return code === 552 || code === 554;
}
