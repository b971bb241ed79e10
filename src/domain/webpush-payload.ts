/**
 * What a browser's service worker receives for one push (`event.data.json()`): the notification
 * fields, the custom data, and Herald's ids so the Web SDK can report the open of this very
 * delivery. Pure.
 */
import { createHash } from 'node:crypto';
import type { PushFields } from './push.js';

/**
 * The most plaintext one aes128gcm record carries inside the 4096 bytes a push service must accept
 * (RFC 8291 §4: 86 bytes of header, 1 padding delimiter, 16 of tag); providers/webpush/encrypt.ts
 * derives the same figure from the same parts.
 */
export const webPushMaxPayloadBytes = 4096 - 86 - 1 - 16;

export interface WebPushPayload {
  title: string;
  body: string;
  data?: Record<string, unknown>;
  /** Herald's keys, as in the APNs and FCM payloads: m = message id, d = delivery id, l = deeplink. */
  herald: { m: string; d: string; l?: string };
  /** The notification tag: a second copy (a re-send after a crash) replaces the first. */
  tag: string;
  badge?: number;
}

export function buildWebPushPayload(push: PushFields, messageId: string, deliveryId: string): string {
  const herald: WebPushPayload['herald'] = { m: messageId, d: deliveryId };
  if (push.deeplink !== undefined) herald.l = push.deeplink;
  const payload: WebPushPayload = { title: push.title, body: push.body, herald, tag: push.collapse_id ?? messageId };
  if (push.data !== undefined) payload.data = push.data;
  if (push.badge !== undefined) payload.badge = push.badge;
  return JSON.stringify(payload);
}

/**
 * RFC 8030 Topic (at most 32 base64url characters): a pending copy with the same topic is replaced.
 * A message id (a UUID) fits once its dashes go; a longer collapse_id is hashed to fit.
 */
export function webPushTopic(push: PushFields, messageId: string): string {
  const key = push.collapse_id ?? messageId.replace(/-/g, '');
  return /^[A-Za-z0-9_-]{1,32}$/.test(key) ? key : createHash('sha256').update(key).digest('base64url').slice(0, 32);
}
