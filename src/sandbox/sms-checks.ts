/**
 * The SMS simulator's request rules and Twilio's error bodies (https://www.twilio.com/docs/messaging/api/message-resource,
 * https://www.twilio.com/docs/api/errors). Pure functions over what the HTTP layer received, so they are
 * cheap and testable alone.
 *
 * Twilio's exact messages are known for a few codes only; the others follow their style and are not verified against the live service.
 * Clients must decide on the HTTP status and the code, never on the message.
 */
import { timingSafeEqual } from 'node:crypto';

/** An error answer: Twilio's v2010 error resource. */
export interface TwilioRefusal {
  readonly status: number;
  readonly code: number;
  readonly message: string;
}

const refusal = (status: number, code: number, message: string): TwilioRefusal => Object.freeze({ status, code, message });

/** `{"code", "message", "more_info", "status"}`, as Twilio's REST API answers every error (https://www.twilio.com/docs/messaging/api/message-resource). */
export function errorBody(r: TwilioRefusal): string {
  return JSON.stringify({ code: r.code, message: r.message, more_info: `https://www.twilio.com/docs/errors/${r.code}`, status: r.status });
}

/** The most characters a Body may have (https://www.twilio.com/docs/messaging/api/message-resource). */
export const maxBodyChars = 1600;
/** ValidityPeriod bounds in seconds (https://www.twilio.com/docs/messaging/api/message-resource; 90007 outside them). */
export const minValiditySeconds = 1;
export const maxValiditySeconds = 36_000;

export const refusals = {
  methodNotAllowed: refusal(405, 20004, 'Method not allowed'),
  notFound: refusal(404, 20404, 'The requested resource was not found'),
  authenticate: refusal(401, 20003, 'Authenticate'),
  missingTo: refusal(400, 21604, 'A \'To\' phone number is required.'),
  missingFrom: refusal(400, 21603, 'A \'From\' phone number is required.'),
  missingBody: refusal(400, 21602, 'Message body is required.'),
  bodyTooLong: refusal(400, 21617, `The concatenated message body exceeds the ${maxBodyChars} character limit.`),
  invalidValidity: refusal(400, 90007, `ValidityPeriod must be between ${minValiditySeconds} and ${maxValiditySeconds} seconds.`),
} as const;

export const invalidTo = (to: string) => refusal(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
export const invalidFrom = (from: string) => refusal(400, 21212, `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`);
export const invalidService = (sid: string) => refusal(400, 21701, `The Messaging Service Sid ${sid} is invalid.`);
export const invalidCallback = (url: string) => refusal(400, 21609, `The StatusCallback URL ${url} is not a valid URL.`);

/** E.164: a plus, a non-zero digit, at most 15 digits in all (ITU-T E.164 §6). */
export const e164 = /^\+[1-9]\d{1,14}$/;
/** A sender: an E.164 number, a short code (3–8 digits), or an alphanumeric sender id (1–11 chars, one letter at least). */
const sender = /^(\+[1-9]\d{1,14}|\d{3,8}|(?=[A-Za-z0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/;
const serviceSid = /^MG[0-9a-f]{32}$/;

/** The account SID of `POST /2010-04-01/Accounts/{sid}/Messages.json` (a `.json` suffix is optional at Twilio, not verified against the live service). */
export function accountOfPath(path: string): string | undefined {
  const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\.json)?$/.exec(path.split('?')[0] ?? '');
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** Basic `sid:token`, compared in constant time: 20003 otherwise, and when the path names another account. */
export function checkAuth(authorization: string | undefined, pathSid: string, issued: { account_sid: string; auth_token: string }): TwilioRefusal | undefined {
  if (!authorization?.startsWith('Basic ')) return refusals.authenticate;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const expected = `${issued.account_sid}:${issued.auth_token}`;
  const a = Buffer.from(decoded);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return refusals.authenticate;
  if (pathSid !== issued.account_sid) return refusals.authenticate;
  return undefined;
}

/** The parameters the simulator reads, once the form is checked. */
export interface CheckedMessage {
  to: string;
  from: string | undefined;
  messagingServiceSid: string | undefined;
  body: string;
  statusCallback: string | undefined;
}

/** The create-message parameters in Twilio's order of checks; a refusal, or the message. */
export function checkMessageForm(form: URLSearchParams): TwilioRefusal | CheckedMessage {
  const to = form.get('To');
  if (to === null || to === '') return refusals.missingTo;
  if (!e164.test(to)) return invalidTo(to);
  const from = form.get('From') ?? undefined;
  const messagingServiceSid = form.get('MessagingServiceSid') ?? undefined;
  if (!from && !messagingServiceSid) return refusals.missingFrom;
  if (from && !sender.test(from)) return invalidFrom(from);
  if (messagingServiceSid && !serviceSid.test(messagingServiceSid)) return invalidService(messagingServiceSid);
  const body = form.get('Body');
  // MMS (MediaUrl) may come without a body; the simulator carries SMS only, so a body is required.
  if (body === null || body === '') return refusals.missingBody;
  // Twilio counts characters; UTF-16 units are what its segment rules count too (https://www.twilio.com/docs/glossary/what-sms-character-limit).
  if (body.length > maxBodyChars) return refusals.bodyTooLong;
  const statusCallback = form.get('StatusCallback') ?? undefined;
  if (statusCallback !== undefined && !isHttpUrl(statusCallback)) return invalidCallback(statusCallback);
  const validity = form.get('ValidityPeriod');
  if (validity !== null) {
    const v = /^\d{1,6}$/.test(validity) ? Number(validity) : NaN;
    if (!(v >= minValiditySeconds && v <= maxValiditySeconds)) return refusals.invalidValidity;
  }
  return { to, from, messagingServiceSid, body, statusCallback };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Delivery errors a fault rule can name as its `reason` (https://www.twilio.com/docs/api/errors): the API accepts the message (201)
 * and the callbacks end in `failed` (never left Twilio) or `undelivered` (the carrier refused it).
 */
const failedCodes = new Set(['30001', '30002', '30034', '30036']);
export function deliveryErrorOf(reason: string | null): { finalStatus: 'failed' | 'undelivered'; errorCode: string } | undefined {
  if (reason === null || !/^30\d{3}$/.test(reason)) return undefined;
  return { finalStatus: failedCodes.has(reason) ? 'failed' : 'undelivered', errorCode: reason };
}

/** Twilio's usual code for a status a fault rule names without a numeric reason. */
const defaultCodes: Readonly<Record<number, number>> = {
  400: 21211, 401: 20003, 403: 20403, 404: 20404, 405: 20004, 429: 20429, 500: 20500, 503: 20503,
};
const defaultMessages: Readonly<Record<number, string>> = {
  21211: 'The \'To\' number is not a valid phone number.',
  21610: 'Attempt to send to unsubscribed recipient',
  21611: 'This \'From\' number has exceeded the maximum number of queued messages',
  21614: '\'To\' number is not a valid mobile number',
  20003: 'Authenticate', 20403: 'Forbidden', 20404: 'The requested resource was not found', 20004: 'Method not allowed',
  20429: 'Too Many Requests', 20500: 'Internal Server Error', 20503: 'Service Unavailable',
};

/** The answer of a fault rule with `status`: `reason` is a Twilio code (e.g. "21610") or a message. */
export function faultRefusal(status: number, reason: string | null): TwilioRefusal {
  if (reason !== null && /^\d{5}$/.test(reason)) {
    const code = Number(reason);
    return refusal(status, code, defaultMessages[code] ?? `Error ${code}`);
  }
  const code = defaultCodes[status] ?? (status >= 500 ? 20500 : 21211);
  return refusal(status, code, reason ?? defaultMessages[code] ?? `Error ${code}`);
}
