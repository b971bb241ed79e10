/**
 * The APNs simulator's request checks, in the order it applies them, each answering as Apple does
 * (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns,
 * https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
 * Pure functions over what the HTTP/2 layer received, so they are cheap and testable alone.
 * Provider-token checks live in apns-auth.ts.
 */
import type { IncomingHttpHeaders } from 'node:http2';

/** An APNs error answer: `:status` and the `reason` of the JSON body (Apple, Handling notification responses from APNs). */
export interface Refusal {
  readonly status: number;
  readonly reason: string;
}

const refuse = (status: number, reason: string): Refusal => Object.freeze({ status, reason });

/** Apple's statuses and reasons for what the simulator checks (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns). */
export const refusals = {
  methodNotAllowed: refuse(405, 'MethodNotAllowed'),
  badPath: refuse(404, 'BadPath'),
  missingDeviceToken: refuse(400, 'MissingDeviceToken'),
  duplicateHeaders: refuse(400, 'DuplicateHeaders'),
  missingTopic: refuse(400, 'MissingTopic'),
  badTopic: refuse(400, 'BadTopic'),
  invalidPushType: refuse(400, 'InvalidPushType'),
  badPriority: refuse(400, 'BadPriority'),
  badCollapseId: refuse(400, 'BadCollapseId'),
  badMessageId: refuse(400, 'BadMessageId'),
  badExpirationDate: refuse(400, 'BadExpirationDate'),
  payloadEmpty: refuse(400, 'PayloadEmpty'),
  payloadTooLarge: refuse(413, 'PayloadTooLarge'),
  /**
   * Apple documents no reason for a body that is not a JSON object with an `aps` dictionary (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
   * only says the body is a JSON object). The simulator refuses it anyway, because catching that
   * client bug is its purpose, with a 400 and a reason of its own: clients treat an unknown 400
   * reason as "fix the request, don't retry", which is the right action.
   */
  badPayload: refuse(400, 'BadPayload'),
  missingProviderToken: refuse(403, 'MissingProviderToken'),
  invalidProviderToken: refuse(403, 'InvalidProviderToken'),
  expiredProviderToken: refuse(403, 'ExpiredProviderToken'),
  tooManyProviderTokenUpdates: refuse(429, 'TooManyProviderTokenUpdates'),
} as const;

const devicePathPrefix = '/3/device/';

/** The device token of `POST /3/device/<token>` (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns), or '' when the path names none. */
export function targetOf(path: string): string {
  return path.startsWith(devicePathPrefix) ? path.slice(devicePathPrefix.length) : '';
}

const hexToken = /^[0-9a-fA-F]+$/;

/** `:method` and `:path`: only POST /3/device/<hex>, of any length ("don't assume a fixed token length", https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). */
export function checkRequestLine(method: string | undefined, path: string | undefined): Refusal | undefined {
  if (method !== 'POST') return refusals.methodNotAllowed;
  if (path === undefined || !path.startsWith(devicePathPrefix)) return refusals.badPath;
  if (path.length === devicePathPrefix.length) return refusals.missingDeviceToken;
  if (!hexToken.test(path.slice(devicePathPrefix.length))) return refusals.badPath;
  return undefined;
}

/**
 * Any header field sent twice is 400 DuplicateHeaders (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns). Node's header object joins repeated
 * fields, so this reads the raw list (name, value, name, value…). A request has about ten fields: a
 * nested loop beats building a Set.
 */
export function findDuplicateHeader(rawHeaders: readonly string[]): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    for (let j = i + 2; j < rawHeaders.length; j += 2) {
      if (rawHeaders[i] === rawHeaders[j]) return rawHeaders[i];
    }
  }
  return undefined;
}

/**
 * apns-push-type values and the suffix each adds to the bundle id in apns-topic (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns "Push types
 * and topic suffixes"). `mdm` takes its topic from the MDM certificate, which token auth has none
 * of; the simulator accepts the bundle id for it.
 */
export const topicSuffixes: Readonly<Record<string, string>> = {
  alert: '',
  background: '',
  location: '.location-query',
  voip: '.voip',
  complication: '.complication',
  fileprovider: '.pushkit.fileprovider',
  mdm: '',
  liveactivity: '.push-type.liveactivity',
  pushtotalk: '.voip-ptt',
};

const typeSuffixes = Object.values(topicSuffixes).filter((s) => s !== '');

/** Payload limits (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns): 4096 bytes, 5120 for VoIP. */
export const maxPayloadBytes = 4096;
export const maxVoipPayloadBytes = 5120;
/** apns-collapse-id is at most 64 bytes (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). */
export const maxCollapseIdBytes = 64;

/** Canonical lowercase UUID 8-4-4-4-12 (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns: apns-id). */
const lowercaseUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isApnsId(value: string): boolean {
  return lowercaseUuid.test(value);
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name];
  return typeof v === 'string' ? v : v?.[0];
};

/**
 * The apns-* headers (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). Answers the refusal, or the payload limit that applies to this push.
 * `bundleId` is the topic the sandbox issued.
 */
export function checkApnsHeaders(headers: IncomingHttpHeaders, bundleId: string): Refusal | number {
  const topic = header(headers, 'apns-topic');
  if (topic === undefined || topic === '') return refusals.missingTopic;

  const pushType = header(headers, 'apns-push-type');
  let voip: boolean;
  if (pushType !== undefined) {
    if (!Object.hasOwn(topicSuffixes, pushType)) return refusals.invalidPushType;
    if (topic !== bundleId + topicSuffixes[pushType]) return refusals.badTopic;
    voip = pushType === 'voip';
  } else {
    // apns-push-type is optional outside watchOS (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns): the topic then says what kind of push it is.
    if (topic !== bundleId && !(topic.startsWith(bundleId) && typeSuffixes.includes(topic.slice(bundleId.length)))) {
      return refusals.badTopic;
    }
    voip = topic === bundleId + '.voip';
  }

  const priority = header(headers, 'apns-priority');
  if (priority !== undefined) {
    if (priority !== '10' && priority !== '5' && priority !== '1') return refusals.badPriority;
    // "Always priority 5; priority 10 is an error" for background pushes (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). An absent
    // priority (default 10) is let through: Apple's text names an explicit 10.
    if (priority === '10' && pushType === 'background') return refusals.badPriority;
  }

  const collapseId = header(headers, 'apns-collapse-id');
  if (collapseId !== undefined && Buffer.byteLength(collapseId, 'utf8') > maxCollapseIdBytes) return refusals.badCollapseId;

  const apnsId = header(headers, 'apns-id');
  if (apnsId !== undefined && !lowercaseUuid.test(apnsId)) return refusals.badMessageId;

  // UNIX epoch seconds; 0 means "deliver once, don't store" (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
  const expiration = header(headers, 'apns-expiration');
  if (expiration !== undefined && !/^\d{1,15}$/.test(expiration)) return refusals.badExpirationDate;

  return voip ? maxVoipPayloadBytes : maxPayloadBytes;
}

/**
 * The body (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns): not empty, within the limit, a JSON object with an `aps` dictionary.
 * `size` is the byte count received, which may exceed what was kept of `body`.
 */
export function checkPayload(body: Buffer, size: number, limit: number): Refusal | undefined {
  if (size === 0) return refusals.payloadEmpty;
  if (size > limit) return refusals.payloadTooLarge;
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString('utf8'));
  } catch {
    return refusals.badPayload; // not JSON at all
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return refusals.badPayload;
  const aps = (payload as Record<string, unknown>).aps;
  if (typeof aps !== 'object' || aps === null || Array.isArray(aps)) return refusals.badPayload;
  return undefined;
}
