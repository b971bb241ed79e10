/**
 * The FCM simulator's request checks and error bodies (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages,
 * https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). Pure functions over what the HTTP layer received, so they are
 * cheap and testable alone. Access-token checks live in fcm-auth.ts.
 *
 * Google's exact messages are known for a few errors only
 * (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode quotes the malformed-token one);
 * the others follow the style of Google's JSON-parsing errors and are marked "not verified". Clients must decide on
 * the HTTP status and the FcmError code, never on the message.
 */

/** FcmError codes (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). */
export const fcmErrorCodes = [
  'UNSPECIFIED_ERROR', 'INVALID_ARGUMENT', 'THIRD_PARTY_AUTH_ERROR', 'SENDER_ID_MISMATCH', 'UNREGISTERED',
  'QUOTA_EXCEEDED', 'UNAVAILABLE', 'INTERNAL',
] as const;
export type FcmErrorCode = (typeof fcmErrorCodes)[number];

/** An error answer: a google.rpc.Status with optional FcmError, BadRequest and QuotaFailure details. */
export interface FcmRefusal {
  readonly status: number;
  /** The canonical status string (INVALID_ARGUMENT, NOT_FOUND…). */
  readonly rpcStatus: string;
  readonly message: string;
  /** Absent for errors outside FCM itself (OAuth, permissions, routing): https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode. */
  readonly errorCode?: FcmErrorCode | undefined;
  readonly fieldViolations?: readonly { field?: string; description: string }[] | undefined;
  readonly quotaViolations?: readonly { subject: string; description: string }[] | undefined;
}

/** How a refusal is listed in the delivery records: the FcmError code, else the status string. */
export const reasonOf = (r: FcmRefusal): string => r.errorCode ?? r.rpcStatus;

/** The status string Google pairs with each FcmError code (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode; the 403/404 pairs are not verified against the live service). */
const rpcStatusOfCode: Readonly<Record<FcmErrorCode, string | undefined>> = {
  UNSPECIFIED_ERROR: undefined,
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  THIRD_PARTY_AUTH_ERROR: 'UNAUTHENTICATED',
  SENDER_ID_MISMATCH: 'PERMISSION_DENIED',
  UNREGISTERED: 'NOT_FOUND',
  QUOTA_EXCEEDED: 'RESOURCE_EXHAUSTED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
};

/** google.rpc.Code by HTTP status, for a status without an FcmError (not verified against the live service for the less common ones). */
const rpcStatusOfHttp: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ABORTED',
  412: 'FAILED_PRECONDITION', 429: 'RESOURCE_EXHAUSTED', 499: 'CANCELLED', 500: 'INTERNAL', 501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED',
};

/** Google's words for each FcmError (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode, its descriptions; the wording, but for UNREGISTERED's gist, is not verified against the live service). */
const messageOfCode: Readonly<Record<FcmErrorCode, string>> = {
  UNSPECIFIED_ERROR: 'No more information is available about this error.',
  INVALID_ARGUMENT: 'Request contains an invalid argument.',
  THIRD_PARTY_AUTH_ERROR: 'Auth error from APNS or Web Push Service',
  SENDER_ID_MISMATCH: 'SenderId mismatch',
  UNREGISTERED: 'Requested entity was not found.',
  QUOTA_EXCEEDED: 'Quota exceeded for quota metric \'Sent messages\' and limit \'Sent messages per minute\' of the project.',
  UNAVAILABLE: 'The service is currently unavailable.',
  INTERNAL: 'Internal error encountered.',
};

function isFcmErrorCode(s: string): s is FcmErrorCode {
  return (fcmErrorCodes as readonly string[]).includes(s);
}

const refuse = (status: number, rpcStatus: string, message: string, more: Partial<FcmRefusal> = {}): FcmRefusal =>
  Object.freeze({ status, rpcStatus, message, ...more });

/** A 400 INVALID_ARGUMENT with FcmError INVALID_ARGUMENT and one field violation. */
const invalid = (message: string, field?: string): FcmRefusal =>
  refuse(400, 'INVALID_ARGUMENT', message, {
    errorCode: 'INVALID_ARGUMENT', fieldViolations: [field === undefined ? { description: message } : { field, description: message }],
  });

/** The refusals that do not depend on the request's content. */
export const refusals = {
  notFound: refuse(404, 'NOT_FOUND', 'Requested entity was not found.'),
  /** Google's OAuth layer, no FcmError (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode; the wording is not verified against the live service). */
  missingCredentials: refuse(401, 'UNAUTHENTICATED', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'),
  invalidCredentials: refuse(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.'),
  bodyTooLarge: invalid('Request payload size exceeds the limit.'),
  notJson: invalid('Invalid JSON payload received. Unexpected token.'),
  noMessage: invalid('Request contains an invalid argument.', 'message'),
  noTarget: invalid('Recipient of the message is not set.', 'message'),
  /** https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode quotes this message for a malformed token; FCM clients may delete such a token. */
  badToken: invalid('The registration token is not a valid FCM registration token', 'message.token'),
  badTopic: invalid('Invalid topic name.', 'message.topic'),
  badCondition: invalid('Invalid condition expression provided.', 'message.condition'),
  tooBig: invalid('Message is too big', 'message'),
} as const;

/** A token in the URL path's project was not issued for: Google's IAM refusal, no FcmError (not verified against the live service). */
export function permissionDenied(projectId: string): FcmRefusal {
  return refuse(403, 'PERMISSION_DENIED',
    `Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/${projectId}' (or it may not exist).`);
}

/** 429 from the project's token bucket (https://firebase.google.com/docs/cloud-messaging/throttling-and-quotas): QUOTA_EXCEEDED with a QuotaFailure naming the project rate. */
export function quotaExceeded(projectId: string): FcmRefusal {
  return refuse(429, 'RESOURCE_EXHAUSTED', messageOfCode.QUOTA_EXCEEDED, {
    errorCode: 'QUOTA_EXCEEDED',
    quotaViolations: [{ subject: `project:${projectId}`, description: 'Project message rate exceeded.' }],
  });
}

/**
 * What a fault rule answers: `reason` an FcmError code gives that code's body (UNREGISTERED → 404
 * NOT_FOUND + FcmError UNREGISTERED); any other reason is taken as a status string without an
 * FcmError (UNAUTHENTICATED: an access token refused by the OAuth layer). No reason: the code that
 * https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode lists for the status.
 */
export function faultRefusal(status: number, reason: string | null): FcmRefusal {
  const r = reason ?? defaultFaultReasons[status] ?? 'UNSPECIFIED_ERROR';
  if (isFcmErrorCode(r)) {
    return refuse(status, rpcStatusOfCode[r] ?? rpcStatusOfHttp[status] ?? 'UNKNOWN', messageOfCode[r], { errorCode: r });
  }
  return refuse(status, r, r === 'UNAUTHENTICATED' ? refusals.invalidCredentials.message : `${r}: injected by a sandbox fault rule.`);
}

/** The FcmError code https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode lists for each status. */
export const defaultFaultReasons: Readonly<Record<number, FcmErrorCode>> = {
  400: 'INVALID_ARGUMENT', 401: 'THIRD_PARTY_AUTH_ERROR', 403: 'SENDER_ID_MISMATCH', 404: 'UNREGISTERED',
  429: 'QUOTA_EXCEEDED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
};

/** The google.rpc.Status body of a refusal (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). */
export function errorBody(r: FcmRefusal): string {
  const details: unknown[] = [];
  if (r.errorCode) details.push({ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: r.errorCode });
  if (r.fieldViolations) details.push({ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: r.fieldViolations });
  if (r.quotaViolations) details.push({ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: r.quotaViolations });
  const error: Record<string, unknown> = { code: r.status, message: r.message, status: r.rpcStatus };
  if (details.length) error.details = details;
  return JSON.stringify({ error });
}

const sendPath = /^\/v1\/projects\/([^/]+)\/messages:send$/;

/** The project of `POST /v1/projects/{id}/messages:send` (https://firebase.google.com/docs/cloud-messaging/send/v1-api), or undefined for any other request. */
export function sendProjectOf(method: string | undefined, path: string | undefined): string | undefined {
  if (method !== 'POST' || path === undefined) return undefined;
  const m = sendPath.exec(path);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** "4096 bytes for most messages and 2048 bytes for topic messages, counting keys and values" (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). */
export const maxPayloadBytes = 4096;
export const maxTopicPayloadBytes = 2048;
/** FCM keeps a message at most 4 weeks (not verified against the live service). */
export const maxTtlSeconds = 28 * 24 * 3600;
/** "A topic condition allows up to 5 topics" (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
export const maxConditionTopics = 5;

/** The fields of the request and of the Message resource (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages), in both proto JSON spellings. */
const requestFields = new Set(['message', 'validate_only', 'validateOnly']);
const messageFields = new Set([
  'name', 'data', 'notification', 'android', 'webpush', 'apns', 'fcm_options', 'fcmOptions', 'token', 'topic', 'condition',
]);
const reservedExact = new Set(['from', 'message_type']);
const reservedPrefixes = ['google.', 'gcm.notification.'];
/** Registration tokens are URL-safe text (not verified against the live service). */
const tokenPattern = /^[A-Za-z0-9_:-]+$/;
/** Topic names (FCM: "[a-zA-Z0-9-_.~%]+", https://firebase.google.com/docs/cloud-messaging/topic-messaging); "/topics/" must not be given in v1 (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
const topicPattern = /^[a-zA-Z0-9\-_.~%]{1,900}$/;
/** A protobuf Duration in JSON. */
const durationPattern = /^\d+(\.\d{1,9})?s$/;

export interface CheckedSend {
  /** What the record lists as target: the token, "/topics/<topic>", the condition, or ''. */
  target: string;
  validateOnly: boolean;
  /** Undefined when the message passes. */
  refusal: FcmRefusal | undefined;
}

/**
 * The message checks, in order: JSON, known fields, exactly one target (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages "union: exactly ONE
 * target"), data maps of strings without reserved keys, android priority and ttl, size.
 */
export function checkSendBody(body: Buffer): CheckedSend {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { target: '', validateOnly: false, refusal: refusals.notJson };
  }
  if (!isObject(json)) return { target: '', validateOnly: false, refusal: refusals.notJson };
  const message = json.message;
  const validateOnly = json.validate_only === true || json.validateOnly === true;
  const target = isObject(message) ? targetOf(message) : '';
  return { target, validateOnly, refusal: checkRequest(json, message) };
}

function checkRequest(json: Record<string, unknown>, message: unknown): FcmRefusal | undefined {
  const unknownTop = Object.keys(json).find((k) => !requestFields.has(k));
  if (unknownTop !== undefined) return unknownName(unknownTop, '');
  if (!isObject(message)) return refusals.noMessage;
  const unknown = Object.keys(message).find((k) => !messageFields.has(k));
  if (unknown !== undefined) return unknownName(unknown, 'message');

  const targets = (['token', 'topic', 'condition'] as const).filter((k) => message[k] !== undefined && message[k] !== null);
  if (targets.length === 0) return refusals.noTarget;
  if (targets.length > 1) {
    return invalid(`Invalid JSON payload received. Oneof field 'target' is already set. Cannot set '${targets[1]}'`, 'message');
  }
  const kind = targets[0]!;
  const value = message[kind];
  if (typeof value !== 'string') return invalid(`Invalid value at 'message.${kind}' (TYPE_STRING), ${JSON.stringify(value)}`, `message.${kind}`);
  if (kind === 'token' && !tokenPattern.test(value)) return refusals.badToken;
  if (kind === 'topic' && !topicPattern.test(value)) return refusals.badTopic;
  if (kind === 'condition' && (value.trim() === '' || (value.match(/in\s+topics/g)?.length ?? 0) > maxConditionTopics)) return refusals.badCondition;

  const android = message.android;
  const webpush = message.webpush;
  for (const [where, map] of [['message.data', message.data], ['message.android.data', isObject(android) ? android.data : undefined],
    ['message.webpush.data', isObject(webpush) ? webpush.data : undefined]] as const) {
    const bad = checkDataMap(where, map);
    if (bad) return bad;
  }
  if (isObject(android)) {
    const p = android.priority;
    if (p !== undefined && p !== 'NORMAL' && p !== 'HIGH' && p !== 0 && p !== 1 && p !== 2) {
      return invalid(`Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), ${JSON.stringify(p)}`, 'message.android.priority');
    }
    const ttl = android.ttl;
    if (ttl !== undefined && (typeof ttl !== 'string' || !durationPattern.test(ttl))) {
      return invalid(`Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(ttl)}`, 'message.android.ttl');
    }
    if (typeof ttl === 'string' && parseFloat(ttl) > maxTtlSeconds) return invalid('The TTL is too long.', 'message.android.ttl');
  }

  const limit = kind === 'token' ? maxPayloadBytes : maxTopicPayloadBytes;
  if (payloadBytes(message) > limit) return refusals.tooBig;
  return undefined;
}

function checkDataMap(where: string, map: unknown): FcmRefusal | undefined {
  if (map === undefined || map === null) return undefined;
  if (!isObject(map)) return invalid(`Invalid value at '${where}' (type.googleapis.com/google.protobuf.Map), ${JSON.stringify(map)}`, where);
  let i = 0;
  for (const [k, v] of Object.entries(map)) {
    // "map<string,string> only" (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages): a number or boolean value is a client bug, not coerced.
    if (typeof v !== 'string') return invalid(`Invalid value at '${where}[${i}].value' (TYPE_STRING), ${JSON.stringify(v)}`, `${where}[${i}].value`);
    if (reservedExact.has(k) || reservedPrefixes.some((p) => k.startsWith(p))) return invalid(`Invalid data payload key: ${k}`, where);
    i++;
  }
  return undefined;
}

/** UTF-8 bytes of every key and value of the message, the target excepted (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages, "counting keys and values"). */
export function payloadBytes(message: Record<string, unknown>): number {
  let n = 0;
  for (const k in message) {
    if (k === 'token' || k === 'topic' || k === 'condition') continue;
    n += Buffer.byteLength(k) + valueBytes(message[k]);
  }
  return n;
}

function valueBytes(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v !== 'object') return String(v).length;
  let n = 0;
  if (Array.isArray(v)) for (const x of v) n += valueBytes(x);
  else for (const k in v) n += Buffer.byteLength(k) + valueBytes((v as Record<string, unknown>)[k]);
  return n;
}

function targetOf(message: Record<string, unknown>): string {
  if (typeof message.token === 'string') return message.token;
  if (typeof message.topic === 'string') return `/topics/${message.topic}`;
  if (typeof message.condition === 'string') return message.condition;
  return '';
}

/** Google's proto-JSON parser refuses fields the message type does not have (wording not verified against the live service). */
function unknownName(name: string, at: string): FcmRefusal {
  const text = `Invalid JSON payload received. Unknown name ${JSON.stringify(name)}${at ? ` at '${at}'` : ''}: Cannot find field.`;
  return invalid(text, at || undefined);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
