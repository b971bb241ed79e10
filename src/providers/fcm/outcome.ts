/**
 * FCM HTTP v1 answers → Herald's DeliveryOutcome. Every row of Google's error table
 * (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode, with the quota rules of
 * https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas) maps to
 * exactly one action; outcome.test.ts checks each. Pure: no I/O.
 *
 * An error body is a `google.rpc.Status`:
 * `{"error": {"code", "message", "status", "details": [{"@type": "…FcmError", "errorCode"}, …]}}`.
 * The FcmError `errorCode` decides; the HTTP status only decides when it is missing (an OAuth or
 * routing error from Google's front end carries none, https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';

/** The FcmError codes of https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode. */
export const fcmErrorCodes = [
  'UNSPECIFIED_ERROR', 'INVALID_ARGUMENT', 'THIRD_PARTY_AUTH_ERROR', 'SENDER_ID_MISMATCH', 'UNREGISTERED',
  'QUOTA_EXCEEDED', 'UNAVAILABLE', 'INTERNAL',
] as const;
export type FcmErrorCode = (typeof fcmErrorCodes)[number];

export const fcmErrorType = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';
export const badRequestType = 'type.googleapis.com/google.rpc.BadRequest';
export const quotaFailureType = 'type.googleapis.com/google.rpc.QuotaFailure';

/**
 * "Project message rate exceeded: back off, minimum initial delay 1 min" and the same for the topic
 * rate (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode, QUOTA_EXCEEDED): the wait when such a 429 names no Retry-After.
 */
export const minQuotaRetryMs = 60_000;

/** What the client reads from one answer. */
export interface FcmAnswer {
  status: number;
  /** `projects/{project}/messages/{id}` of a 200 (https://firebase.google.com/docs/cloud-messaging/send/v1-api). */
  name?: string | undefined;
  /** The google.rpc.Status of an error answer, when its body is one. */
  error?: FcmErrorInfo | undefined;
}

export interface FcmErrorInfo {
  /** The canonical status string, e.g. NOT_FOUND, UNAUTHENTICATED. */
  status?: string | undefined;
  message?: string | undefined;
  /** The FcmError detail's `errorCode`, absent for errors outside FCM itself (OAuth, routing). */
  errorCode?: string | undefined;
  /** BadRequest.fieldViolations[].field */
  fields: string[];
  /** QuotaFailure.violations[] subject and description, joined. */
  quotaViolations: string[];
}

/** Reads a status and body; a body that is not the documented JSON gives an answer without `error`. */
export function readFcmAnswer(status: number, body: Buffer | string): FcmAnswer {
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return { status };
  }
  if (status === 200) {
    const name = (json as { name?: unknown } | null)?.name;
    return { status, name: typeof name === 'string' ? name : undefined };
  }
  const e = (json as { error?: unknown } | null)?.error;
  if (typeof e !== 'object' || e === null) return { status };
  const err = e as { status?: unknown; message?: unknown; details?: unknown };
  const info: FcmErrorInfo = {
    status: typeof err.status === 'string' ? err.status : undefined,
    message: typeof err.message === 'string' ? err.message : undefined,
    fields: [],
    quotaViolations: [],
  };
  for (const d of Array.isArray(err.details) ? err.details : []) {
    if (typeof d !== 'object' || d === null) continue;
    const detail = d as Record<string, unknown>;
    const type = detail['@type'];
    if (type === fcmErrorType && typeof detail.errorCode === 'string') info.errorCode = detail.errorCode;
    else if (type === badRequestType && Array.isArray(detail.fieldViolations)) {
      for (const v of detail.fieldViolations as { field?: unknown }[]) if (typeof v?.field === 'string') info.fields.push(v.field);
    } else if (type === quotaFailureType && Array.isArray(detail.violations)) {
      for (const v of detail.violations as { subject?: unknown; description?: unknown }[]) {
        info.quotaViolations.push([v?.subject, v?.description].filter((s) => typeof s === 'string').join(' '));
      }
    }
  }
  return { status, error: info };
}

/**
 * A 401 without an FcmError is Google's OAuth layer refusing the access token (expired, revoked):
 * the client mints a new one and tries once more (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode, UNAUTHENTICATED). A 401 with
 * THIRD_PARTY_AUTH_ERROR is about the APNs or web-push credentials in the Firebase project instead.
 */
export function needsFreshAccessToken(a: FcmAnswer): boolean {
  return a.status === 401 && (a.error?.errorCode === undefined || a.error.errorCode === 'UNSPECIFIED_ERROR');
}

/**
 * Which of QUOTA_EXCEEDED's three cases (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode) a 429 is. Google names the case only in prose (the
 * message or a QuotaFailure violation; wording not verified against the live service), so only an explicit mention of a
 * device narrows it: the project and topic cases both mean "the whole project backs off ≥ 1 min",
 * which is also the safe reading of a 429 that says nothing.
 */
export function quotaScope(a: FcmAnswer): 'project' | 'device' | undefined {
  if (a.status !== 429) return undefined;
  const code = a.error?.errorCode;
  if (code !== undefined && code !== 'QUOTA_EXCEEDED' && code !== 'UNSPECIFIED_ERROR') return undefined;
  const prose = [a.error?.message ?? '', ...(a.error?.quotaViolations ?? [])].join(' ');
  return /\bdevice\b/i.test(prose) ? 'device' : 'project';
}

/** Google's wording for a malformed token (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode, INVALID_ARGUMENT). */
const malformedToken = /registration token is not a valid FCM registration token/i;

/** Longest excerpt of Google's message kept in a reason: enough to tell which field was wrong. */
const maxMessageChars = 300;

export function fcmOutcome(a: FcmAnswer, retryAfterMs?: number): DeliveryOutcome {
  const { status } = a;
  if (status === 200) return { kind: 'delivered', providerId: a.name };
  const code = a.error?.errorCode;
  const label = (code !== undefined && code !== 'UNSPECIFIED_ERROR' ? code : undefined) ?? a.error?.status ?? `HTTP ${status}`;
  // For outcomes an operator must act on, Google's message says what to fix.
  const explained = a.error?.message ? `${label}: ${a.error.message.slice(0, maxMessageChars)}` : label;

  switch (code) {
    case 'UNREGISTERED': // 404: "App instance was unregistered from FCM": delete the token.
    case 'SENDER_ID_MISMATCH': // 403: the token belongs to another sender: delete it for this project.
      return { kind: 'token_invalid', reason: code, status };
    case 'INVALID_ARGUMENT':
      // "Don't retry. A malformed token can be deleted." Only Google's wording tells that case apart
      // from the other bad parameters (package name, size, reserved key, TTL…).
      if (a.error?.message && malformedToken.test(a.error.message)) return { kind: 'token_invalid', reason: explained, status };
      return { kind: 'rejected', reason: explained, status };
    case 'THIRD_PARTY_AUTH_ERROR': // 401: APNs certificate or web-push key of the project: fix config, don't retry.
      return { kind: 'credentials_invalid', reason: explained, status };
    case 'QUOTA_EXCEEDED': // 429: honour Retry-After; ≥ 1 min for the project and topic rates when none is given.
      return { kind: 'retry', reason: code, status, retryAfterMs: quotaRetryMs(a, retryAfterMs) };
    case 'UNAVAILABLE': // 503: overloaded: retry honouring Retry-After, with exponential backoff.
    case 'INTERNAL': // 500: "retry like UNAVAILABLE".
      return { kind: 'provider_down', reason: code, status, retryAfterMs };
    default:
      break;
  }
  // No FcmError (or UNSPECIFIED_ERROR, or a code Google adds later): the HTTP status decides.
  if (status === 401) return { kind: 'credentials_invalid', reason: explained, status }; // still refused after a fresh token
  if (status === 403) return { kind: 'credentials_invalid', reason: explained, status }; // PERMISSION_DENIED: account or project wrong
  if (status === 429) return { kind: 'retry', reason: label, status, retryAfterMs: quotaRetryMs(a, retryAfterMs) };
  if (status >= 500) return { kind: 'provider_down', reason: label, status, retryAfterMs };
  // Any other answer is one FCM will give again however often the request is sent (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode: "400: fix
  // and never retry"). A 404 without UNREGISTERED is a wrong path or project, not a dead token.
  return { kind: 'rejected', reason: explained, status };
}

function quotaRetryMs(a: FcmAnswer, retryAfterMs: number | undefined): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs;
  return quotaScope(a) === 'device' ? undefined : minQuotaRetryMs;
}
