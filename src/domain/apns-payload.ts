/**
 * Builds what APNs receives for one push: the JSON payload and the header values
 * (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns). Pure: no I/O, no clock of its own.
 */
import type { PushFields } from './push.js';

/** APNs refuses larger payloads with 413 PayloadTooLarge (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns; VoIP is not sent). */
export const apnsMaxPayloadBytes = 4096;
/** apns-collapse-id over 64 bytes is 400 BadCollapseId. */
export const apnsMaxCollapseIdBytes = 64;
/** Without a ttl, Apple keeps a notification for an offline device at most 30 days. */
export const defaultTtlSeconds = 30 * 24 * 3600;

export interface ApnsPushParts {
  payload: string;
  priority: 10 | 5;
  pushType: 'alert';
  /** Epoch seconds after which APNs stops trying. */
  expiration: number;
  collapseId: string;
}

/** Keys Herald owns in the payload; custom `data` may not overwrite them. */
export const reservedDataKeys = ['aps', 'herald'] as const;

export function buildApnsPush(push: PushFields, messageId: string, createdAtMs: number): ApnsPushParts {
  const aps: Record<string, unknown> = { alert: { title: push.title, body: push.body } };
  if (push.badge !== undefined) aps.badge = push.badge;
  if (push.sound !== undefined) aps.sound = push.sound;
  const herald: Record<string, string> = { m: messageId };
  if (push.deeplink !== undefined) herald.l = push.deeplink;
  const payload = JSON.stringify({ ...(push.data ?? {}), aps, herald });
  return {
    payload,
    priority: push.priority === 'normal' ? 5 : 10,
    pushType: 'alert',
    expiration: Math.floor(createdAtMs / 1000) + (push.ttl_seconds ?? defaultTtlSeconds),
    // Always set: a retry after a crash between "sent" and "recorded" then replaces the first copy
    // on the device instead of showing a second one (the message id is a fine default key).
    collapseId: push.collapse_id ?? messageId,
  };
}

export function apnsPayloadBytes(parts: ApnsPushParts): number {
  return Buffer.byteLength(parts.payload, 'utf8');
}
