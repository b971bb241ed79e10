/**
 * Twilio Messages API answers → Herald's DeliveryOutcome (https://www.twilio.com/docs/messaging/api/message-resource,
 * https://www.twilio.com/docs/api/errors). Every code of the table maps to exactly one action; outcome.test.ts
 * checks each. Pure: no I/O.
 *
 * An error body is `{"code": 21211, "message": "…", "more_info": "https://www.twilio.com/docs/errors/21211",
 * "status": 400}`. The code decides where the table names it; otherwise the HTTP status does, since
 * Twilio splits codes into finer ones over time (https://www.twilio.com/docs/api/errors, and its 2024-07-10 changelog entry on the error dictionary) and an unknown code must still
 * land somewhere sensible.
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';

/** What the client reads from one answer. */
export interface TwilioAnswer {
  status: number;
  /** The message resource's `sid` (SM… or MM…) of a 201. */
  sid?: string | undefined;
  /** Twilio's error code, when the body is an error resource. */
  code?: number | undefined;
  message?: string | undefined;
}

/** Reads a status and body; a body that is not Twilio's JSON gives an answer with the status alone. */
export function readTwilioAnswer(status: number, body: Buffer | string): TwilioAnswer {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { status };
  }
  if (typeof json !== 'object' || json === null) return { status };
  const o = json as { sid?: unknown; code?: unknown; message?: unknown };
  return {
    status,
    sid: typeof o.sid === 'string' ? o.sid : undefined,
    code: typeof o.code === 'number' && Number.isInteger(o.code) ? o.code : typeof o.code === 'string' && /^\d+$/.test(o.code) ? Number(o.code) : undefined,
    message: typeof o.message === 'string' ? o.message : undefined,
  };
}

/** The reason recorded for 21610: the recipient replied STOP (or a synonym) to this sender. */
export const optedOutReason = 'opted_out';

/** When a 429 names no Retry-After: one second, the pace of a US long code (https://www.twilio.com/docs/messaging/api/message-resource). */
export const defaultRateLimitRetryMs = 1_000;

/** Longest excerpt of Twilio's message kept in a reason: enough to tell which parameter was wrong. */
const maxMessageChars = 200;

export function twilioOutcome(a: TwilioAnswer, retryAfterMs?: number): DeliveryOutcome {
  const { status, code } = a;
  if (status === 200 || status === 201) {
    if (a.sid) return { kind: 'delivered', providerId: a.sid };
    // A 2xx without a message SID is not Twilio's answer (a proxy, a captive portal): try again later.
    return { kind: 'provider_down', reason: `HTTP ${status} without a message sid`, status };
  }
  const reason = code === undefined ? `HTTP ${status}${a.message ? `: ${a.message.slice(0, maxMessageChars)}` : ''}`
    : `${code}${a.message ? `: ${a.message.slice(0, maxMessageChars)}` : ''}`;

  switch (code) {
    case 21610: // the recipient replied STOP: suppress until START (https://www.twilio.com/docs/api/errors/21610)
      return { kind: 'token_invalid', reason: optedOutReason, status };
    case 21211: // invalid To number: drop
    case 21614: // To is not a valid mobile number: drop
      return { kind: 'token_invalid', reason, status };
    case 20003: // authentication failed: fix credentials
    case 30002: // account suspended: nothing sends until an operator acts
      return { kind: 'credentials_invalid', reason, status };
    case 20429: // too many API requests: back off
      return { kind: 'retry', reason, status, retryAfterMs: retryAfterMs ?? defaultRateLimitRetryMs };
    case 21611: // the sender's queue holds 10 h of backlog: slow down (https://www.twilio.com/docs/messaging/api/message-resource)
    case 30001: // queue overflow: slow down
      return { kind: 'retry', reason, status, retryAfterMs };
    default:
      break;
  }
  if (status === 401) return { kind: 'credentials_invalid', reason, status };
  if (status === 429) return { kind: 'retry', reason, status, retryAfterMs: retryAfterMs ?? defaultRateLimitRetryMs };
  if (status >= 500) return { kind: 'provider_down', reason, status, retryAfterMs };
  // Every other answer (21408 region not permitted, 21617 body too long, 90007 validity, 404…) is one
  // Twilio will give again however often it is sent: "400-class 21xxx, 90007: fix and never retry" (https://www.twilio.com/docs/api/errors).
  return { kind: 'rejected', reason, status };
}
