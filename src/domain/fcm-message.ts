/**
 * Builds the FCM HTTP v1 request body `{"message": {...}}` for one registration token
 * (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). Pure: no I/O, no clock; it can move to src/domain/ as is.
 *
 * A problem with the push is answered as data (`{ok: false, code, message}`), so the API edge can
 * refuse it with a clear error before anything is queued, as it does for APNs payloads.
 */
import type { PushFields } from './push.js';

/** "4096 bytes for most messages and 2048 bytes for topic messages, counting keys and values" (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). */
export const fcmMaxPayloadBytes = 4096;
export const fcmMaxTopicPayloadBytes = 2048;
/** FCM keeps a message at most 4 weeks (android.ttl upper bound; not verified against the live service). */
export const fcmMaxTtlSeconds = 28 * 24 * 3600;
/** APNs refuses a longer apns-collapse-id (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns); FCM passes the header through. */
const apnsMaxCollapseIdBytes = 64;

/** An `android`, `apns` or `webpush` block of the v1 message, passed through as FCM defines it. */
export type FcmPlatformBlock = Record<string, unknown>;

/** The v1 `Message` resource as Herald builds it (field list: https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages). */
export interface FcmMessage {
  token?: string;
  topic?: string;
  condition?: string;
  notification?: { title?: string; body?: string; image?: string };
  /** map<string, string>: FCM refuses any other value type. */
  data?: Record<string, string>;
  android?: FcmPlatformBlock;
  apns?: FcmPlatformBlock;
  webpush?: FcmPlatformBlock;
}

/** Raw platform blocks merged over what Herald derives from the push (the caller's wins). */
export interface FcmOverrides {
  android?: FcmPlatformBlock | undefined;
  apns?: FcmPlatformBlock | undefined;
  webpush?: FcmPlatformBlock | undefined;
}

export interface FcmBuildOptions {
  /** Herald's message id: read back by the SDK (data.herald.m), and the default notification tag. */
  messageId?: string | undefined;
  overrides?: FcmOverrides | undefined;
}

export type FcmMessageErrorCode =
  | 'invalid_token' | 'reserved_data_key' | 'invalid_data' | 'invalid_ttl' | 'invalid_override' | 'payload_too_large';

export type FcmBuildResult =
  | { ok: true; message: FcmMessage; /** The request body, ready to POST. */ body: string; payloadBytes: number }
  | { ok: false; code: FcmMessageErrorCode; message: string };

/** FCM's reserved data keys (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages): exact names and prefixes. */
const reservedExact = new Set(['from', 'message_type']);
const reservedPrefixes = ['google.', 'gcm.notification.'];

/** The reserved-key rule FCM applies to a data map, or undefined when `key` may be used. */
export function reservedDataKey(key: string): string | undefined {
  if (reservedExact.has(key)) return `"${key}" is reserved by FCM`;
  const prefix = reservedPrefixes.find((p) => key.startsWith(p));
  return prefix ? `keys starting with "${prefix}" are reserved by FCM` : undefined;
}

/**
 * The size FCM's limit is about: the UTF-8 bytes of every key and value in the message ("counting
 * keys and values", https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages), the target excepted (it names the recipient, it is not payload). How
 * Google counts exactly is not published; this reading is the sandbox's too (src/sandbox/fcm-checks.ts),
 * and is stricter than counting `data` alone, so what passes here is not refused for size by FCM.
 */
export function fcmPayloadBytes(message: FcmMessage): number {
  let n = 0;
  for (const [k, v] of Object.entries(message)) {
    if (k === 'token' || k === 'topic' || k === 'condition') continue;
    n += Buffer.byteLength(k) + valueBytes(v);
  }
  return n;
}

function valueBytes(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v).length;
  let n = 0;
  if (Array.isArray(v)) for (const x of v) n += valueBytes(x);
  else for (const [k, x] of Object.entries(v as Record<string, unknown>)) n += Buffer.byteLength(k) + valueBytes(x);
  return n;
}

/** FCM data values are strings (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages): strings stay as they are, anything else becomes its JSON text. */
export function stringifyDataValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Registration tokens are URL-safe text (not verified against the live service); anything else FCM answers with INVALID_ARGUMENT. */
const tokenPattern = /^[A-Za-z0-9_:-]+$/;
/** android.ttl is a protobuf Duration in JSON: seconds with up to nine fractional digits and "s". */
const durationPattern = /^\d+(\.\d{1,9})?s$/;

const fail = (code: FcmMessageErrorCode, message: string): FcmBuildResult => ({ ok: false, code, message });

export function buildFcmMessage(token: string, push: PushFields, o: FcmBuildOptions = {}): FcmBuildResult {
  if (!tokenPattern.test(token)) return fail('invalid_token', 'an FCM registration token is URL-safe text and not empty');

  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(push.data ?? {})) {
    if (v === undefined) continue;
    data[k] = stringifyDataValue(v);
  }
  // Herald's own keys, as in the APNs payload's "herald" dictionary (domain/apns-payload.ts), as one
  // JSON string because data values must be strings. The API refuses a custom "herald" key.
  const herald: Record<string, string> = {};
  if (o.messageId !== undefined) herald.m = o.messageId;
  if (push.deeplink !== undefined) herald.l = push.deeplink;
  if (Object.keys(herald).length > 0) data.herald = JSON.stringify(herald);

  // A re-send after a crash between "sent" and "recorded" must replace the first copy on the device,
  // not show a second one (as apns-collapse-id does for APNs): the notification tag on Android and
  // web, apns-collapse-id on Apple devices, default to the message id.
  const tag = push.collapse_id ?? o.messageId;

  const android: FcmPlatformBlock = {};
  if (push.priority !== undefined) android.priority = push.priority === 'high' ? 'HIGH' : 'NORMAL';
  if (push.ttl_seconds !== undefined) {
    const ttl = push.ttl_seconds;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > fcmMaxTtlSeconds) {
      return fail('invalid_ttl', `ttl_seconds must be an integer from 0 to ${fcmMaxTtlSeconds} (4 weeks)`);
    }
    android.ttl = `${ttl}s`;
  }
  if (push.collapse_id !== undefined) android.collapse_key = push.collapse_id;
  if (tag !== undefined) android.notification = { tag };

  const apns: FcmPlatformBlock = {};
  if (tag !== undefined && Buffer.byteLength(tag) <= apnsMaxCollapseIdBytes) apns.headers = { 'apns-collapse-id': tag };

  const webpush: FcmPlatformBlock = {};
  if (tag !== undefined) webpush.notification = { tag };
  // FCM opens fcm_options.link on a click, and only accepts HTTPS there (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages#webpushfcmoptions).
  if (push.deeplink?.startsWith('https://')) webpush.fcm_options = { link: push.deeplink };

  const message: FcmMessage = { token, notification: { title: push.title, body: push.body } };
  if (Object.keys(data).length > 0) message.data = data;
  for (const [name, derived] of [['android', android], ['apns', apns], ['webpush', webpush]] as const) {
    const override = o.overrides?.[name];
    if (override !== undefined && !isPlainObject(override)) return fail('invalid_override', `${name} must be a JSON object`);
    const block = override === undefined ? derived : merge(derived, override);
    if (Object.keys(block).length > 0) message[name] = block;
  }

  const bad = checkMessage(message);
  if (bad) return bad;
  const payloadBytes = fcmPayloadBytes(message);
  if (payloadBytes > fcmMaxPayloadBytes) {
    return fail('payload_too_large', `the FCM message would be ${payloadBytes} bytes of keys and values; FCM accepts ${fcmMaxPayloadBytes}`);
  }
  return { ok: true, message, body: JSON.stringify({ message }), payloadBytes };
}

/** What FCM would refuse with INVALID_ARGUMENT in the merged message (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages): data maps and android fields. */
function checkMessage(m: FcmMessage): FcmBuildResult | undefined {
  const maps: [string, unknown][] = [['data', m.data], ['android.data', m.android?.data], ['webpush.data', m.webpush?.data]];
  for (const [where, map] of maps) {
    if (map === undefined) continue;
    if (!isPlainObject(map)) return fail('invalid_data', `${where} must be an object of strings`);
    for (const [k, v] of Object.entries(map)) {
      const reserved = reservedDataKey(k);
      if (reserved) return fail('reserved_data_key', `${where}.${k}: ${reserved}`);
      if (typeof v !== 'string') return fail('invalid_data', `${where}.${k} must be a string: FCM data is map<string, string>`);
    }
  }
  const a = m.android;
  if (a?.priority !== undefined && a.priority !== 'HIGH' && a.priority !== 'NORMAL') {
    return fail('invalid_override', 'android.priority must be "HIGH" or "NORMAL"');
  }
  if (a?.ttl !== undefined && (typeof a.ttl !== 'string' || !durationPattern.test(a.ttl) || parseFloat(a.ttl) > fcmMaxTtlSeconds)) {
    return fail('invalid_ttl', `android.ttl must be a duration such as "3600s", at most ${fcmMaxTtlSeconds}s`);
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `over` merged into `base`: objects key by key, anything else (arrays included) replaced. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? merge(b, v) : v;
  }
  return out;
}
