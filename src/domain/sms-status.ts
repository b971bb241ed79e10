/**
 * Twilio status callbacks → Herald delivery statuses (https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks). Twilio
 * posts `MessageStatus` (with `ErrorCode` when a message failed) as a message moves on; callbacks
 * can arrive out of order, so the furthest state is kept: a final status is never replaced, and an
 * in-between one never replaces a later one. Pure: the SQL in store/sms.ts applies `replaceableBy`.
 */

/** The statuses an SMS delivery can take from callbacks; the first is the only non-final one. */
export type SmsCallbackStatus = 'sent' | 'delivered' | 'undelivered' | 'failed';

export type CallbackVerdict =
  /** Still on its way at Twilio (queued, accepted, scheduled, sending): nothing to record. */
  | { kind: 'in_flight'; messageStatus: string }
  /** A status Herald records; `reason` names Twilio's error code when it failed. */
  | { kind: 'status'; status: SmsCallbackStatus; reason: string | null }
  /** Not a status of an outbound message (received, receiving) or one Twilio added later. */
  | { kind: 'ignored'; messageStatus: string };

/** Twilio's words for the delivery errors (https://www.twilio.com/docs/api/errors) that a callback carries. */
const errorMeanings: Readonly<Record<string, string>> = {
  '30001': 'queue overflow',
  '30002': 'account suspended',
  '30003': 'unreachable destination handset',
  '30004': 'message blocked',
  '30005': 'unknown destination handset',
  '30006': 'landline or unreachable carrier',
  '30007': 'message filtered',
  '30008': 'unknown error',
  '30034': 'US A2P 10DLC unregistered number',
  '30036': 'validity period expired',
};

/** `30005: unknown destination handset`, or the bare code when the table does not know it. */
export function errorReason(errorCode: string | undefined | null): string | null {
  if (!errorCode || errorCode === '0') return null;
  const meaning = errorMeanings[errorCode];
  return meaning ? `${errorCode}: ${meaning}` : errorCode;
}

/** What one callback's MessageStatus (and ErrorCode) means for the delivery. */
export function callbackVerdict(messageStatus: string, errorCode?: string | null): CallbackVerdict {
  switch (messageStatus) {
    case 'queued':
    case 'accepted':
    case 'scheduled':
    case 'sending':
      return { kind: 'in_flight', messageStatus };
    case 'sent':
      return { kind: 'status', status: 'sent', reason: null };
    case 'delivered':
    case 'read': // a read receipt (channels that have them) implies delivery
      return { kind: 'status', status: 'delivered', reason: null };
    case 'undelivered':
      return { kind: 'status', status: 'undelivered', reason: errorReason(errorCode) ?? 'undelivered' };
    case 'failed':
      return { kind: 'status', status: 'failed', reason: errorReason(errorCode) ?? 'failed' };
    case 'canceled': // a scheduled message canceled before it went out
      return { kind: 'status', status: 'failed', reason: 'canceled' };
    default:
      return { kind: 'ignored', messageStatus };
  }
}

/**
 * The delivery statuses a callback's status may replace. `queued` is what the worker leaves before
 * it records the API's answer (a callback can beat it); `unknown` is a send whose outcome a crash
 * lost (migration 0008): a callback is the proof of what became of it; `sent` is in flight at the
 * carrier. Every other status is final: delivered, undelivered, failed, and the worker's own
 * invalidated and expired.
 */
export function replaceableBy(next: SmsCallbackStatus): readonly string[] {
  return next === 'sent' ? ['queued', 'unknown'] : ['queued', 'unknown', 'sent'];
}
