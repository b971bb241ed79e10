/**
 * What a mail system reports back about an email Herald sent, read from the raw report message
 * (RFC 5322) that POST /v1/email/feedback receives:
 * - a delivery status notification (RFC 3464): `multipart/report; report-type=delivery-status`
 *   whose second part, message/delivery-status, has a group of fields per recipient. A recipient
 *   whose Action is `failed` with a 5.x.x Status is a hard bounce; a 4.x.x Status, or an Action of
 *   `delayed`, is a soft bounce (RFC 3463 §3.1: class 4 is a persistent transient failure, class 5
 *   a permanent one). `delivered`, `relayed` and `expanded` are no bounce.
 * - a feedback report (RFC 5965, ARF): `multipart/report; report-type=feedback-report` whose
 *   second part, message/feedback-report, says the Feedback-Type. `abuse` (the recipient called it
 *   spam) is a complaint; the other types (fraud, virus, other, not-spam, auth-failure) say
 *   nothing about the recipient's wish and are read but record nothing.
 *
 * Both may return the original message, or its header fields, as the third part (RFC 6522 §3):
 * Herald's Message-ID is `<delivery id@sender domain>` (domain/email-message.ts), so its left part
 * ties the report to the delivery. Without it the recipient's address is what is left to go by.
 */
import { isEmailAddress, normalizeEmailAddress } from './email-address.js';
import { field, fieldsNamed, multipartParts, parseEntity, parseFields, splitHeaderBody, type MimePart } from './mime-report.js';

export type FeedbackKind = 'bounce' | 'soft_bounce' | 'complaint';

export interface FeedbackItem {
  kind: FeedbackKind;
  /** The recipient the report names, lower-cased; null when it names none Herald can read. */
  address: string | null;
  /** The delivery Herald's Message-ID names, when the report returned it. */
  deliveryId: string | null;
  /** For an operator: a bounce's Status and Diagnostic-Code, a complaint's Feedback-Type. */
  detail: string;
}

export interface FeedbackReport {
  reportType: 'delivery-status' | 'feedback-report';
  /** What to record; empty for a report of successes or of a feedback type that is no complaint. */
  items: FeedbackItem[];
}

export type ParsedReport = { ok: true; report: FeedbackReport } | { ok: false; reason: string };

const refuse = (reason: string): ParsedReport => ({ ok: false, reason });

/** The longest detail kept: enough for any SMTP reply worth reading. */
const maxDetail = 500;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The delivery id of a Message-ID Herald made (`<id@domain>`), or null for any other. */
export function deliveryIdOfMessageId(messageId: string | undefined): string | null {
  const m = /^\s*<([^@<>\s]+)@[^<>\s]+>\s*$/.exec(messageId ?? '');
  const id = m?.[1]!.toLowerCase();
  return id !== undefined && uuid.test(id) ? id : null;
}

/**
 * An address field's address: `rfc822; ann@example.com` (RFC 3464 §2.3.2), maybe in angle
 * brackets, or `utf-8; …` from a message/global-delivery-status (RFC 6533 §3). Another address
 * type (an X.400 address, say) names no mailbox Herald sends to.
 */
function addressOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const semi = value.indexOf(';');
  if (semi >= 0 && !/^\s*(rfc822|utf-8)\s*$/i.test(value.slice(0, semi))) return null;
  const address = normalizeEmailAddress((semi >= 0 ? value.slice(semi + 1) : value).replace(/^\s*<|>\s*$/g, ''));
  return isEmailAddress(address) ? address : null;
}

/** The Message-ID of the returned original, from a report's third part (full message or headers only). */
function originalDeliveryId(parts: MimePart[]): string | null {
  const original = parts.slice(2).find((p) => /^(message\/(rfc822|global|global-headers)|text\/rfc822-headers)$/.test(p.type));
  if (!original) return null;
  // message/rfc822 carries a whole message; text/rfc822-headers only its header block.
  const header = original.type.endsWith('headers') ? original.body : splitHeaderBody(original.body).header;
  return deliveryIdOfMessageId(field(parseFields(header), 'message-id'));
}

/** Reads a raw report message; a message that is no report of these two kinds is refused with why. */
export function parseFeedbackReport(raw: string): ParsedReport {
  const top = parseEntity(raw);
  if (top.type !== 'multipart/report') return refuse(`the message is ${top.type}, not multipart/report (RFC 6522)`);
  const reportType = top.params['report-type']?.toLowerCase();
  if (reportType !== 'delivery-status' && reportType !== 'feedback-report') {
    return refuse(`report-type ${reportType ?? '(none)'} is neither delivery-status (RFC 3464) nor feedback-report (RFC 5965)`);
  }
  const boundary = top.params.boundary;
  const parts = boundary ? multipartParts(top.body, boundary) : undefined;
  if (!parts) return refuse('the multipart/report has no boundary, or no part with it');
  const deliveryId = originalDeliveryId(parts);
  return reportType === 'delivery-status' ? deliveryStatus(parts, deliveryId) : feedbackReport(parts, deliveryId);
}

/**
 * RFC 3464 §2.1: the per-message fields, then one group of per-recipient fields per recipient,
 * each group after an empty line. Final-Recipient, Action and Status are required per recipient
 * (RFC 3464 §2.3); Original-Recipient, when given, is the address Herald sent to.
 */
function deliveryStatus(parts: MimePart[], deliveryId: string | null): ParsedReport {
  const status = parts.find((p) => p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status');
  if (!status) return refuse('a delivery-status report needs a message/delivery-status part (RFC 3464 section 2)');
  const groups = status.body.split(/\r?\n[ \t]*\r?\n/).map((g) => g.trim()).filter((g) => g !== '').map(parseFields);
  const recipients = groups.slice(1);
  if (!recipients.length) return refuse('the message/delivery-status part has no per-recipient fields (RFC 3464 section 2.3)');
  const items: FeedbackItem[] = [];
  for (const [i, r] of recipients.entries()) {
    const action = field(r, 'action')?.split(/[\s(]/)[0]!.toLowerCase();
    const code = /^([245])\.\d{1,3}\.\d{1,3}$/.exec(field(r, 'status')?.split(/[\s(]/)[0] ?? '');
    const finalRecipient = field(r, 'final-recipient');
    if (!action || !code || finalRecipient === undefined) {
      return refuse(`recipient ${i + 1} of the delivery-status lacks a valid Final-Recipient, Action or Status (RFC 3464 section 2.3)`);
    }
    const kind: FeedbackKind | undefined = action === 'failed' ? (code[1] === '5' ? 'bounce' : 'soft_bounce')
      : action === 'delayed' ? 'soft_bounce' : undefined;
    if (!kind) continue;
    const diagnostic = field(r, 'diagnostic-code');
    items.push({
      kind,
      address: addressOf(field(r, 'original-recipient')) ?? addressOf(finalRecipient),
      deliveryId,
      detail: `${code[0]}${diagnostic ? ` ${diagnostic}` : ''}`.slice(0, maxDetail),
    });
  }
  return { ok: true, report: { reportType: 'delivery-status', items } };
}

/** RFC 5965 §3.1: Feedback-Type is required; Original-Rcpt-To (§3.2) names the recipient. */
function feedbackReport(parts: MimePart[], deliveryId: string | null): ParsedReport {
  const report = parts.find((p) => p.type === 'message/feedback-report');
  if (!report) return refuse('a feedback-report needs a message/feedback-report part (RFC 5965 section 3)');
  const fields = parseFields(report.body);
  const type = field(fields, 'feedback-type')?.toLowerCase();
  if (!type) return refuse('the message/feedback-report part has no Feedback-Type (RFC 5965 section 3.1)');
  if (type !== 'abuse') return { ok: true, report: { reportType: 'feedback-report', items: [] } };
  const address = fieldsNamed(fields, 'original-rcpt-to').map(addressOf).find((a) => a !== null) ?? null;
  if (address === null && deliveryId === null) {
    return refuse('the feedback report names neither its recipient (Original-Rcpt-To) nor a message Herald sent (the original\'s Message-ID)');
  }
  return { ok: true, report: { reportType: 'feedback-report', items: [{ kind: 'complaint', address, deliveryId, detail: `feedback-type ${type}` }] } };
}
