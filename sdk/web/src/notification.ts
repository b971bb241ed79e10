/**
 * What the service worker shows for a push, read from the JSON Herald encrypts: `title`, `body`,
 * optional `icon`, `image`, `badge`, `tag`, `deeplink`, `data`, and the ids for tracking, either as
 * `message_id` / `delivery_id` or, as in Herald's APNs payload, under `herald: { m, d, l }`.
 */

export interface HeraldNotificationData {
  message_id?: string;
  delivery_id?: string;
  deeplink?: string;
  /** The push's custom data, for the site's own click handling. */
  data?: unknown;
}

export interface NotificationToShow {
  title: string;
  options: NotificationOptions & { data: { herald: HeraldNotificationData } };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** Herald's ids are UUIDs, and Herald refuses a push event carrying anything else: such an id is left out. */
const uuid = (v: unknown): string | undefined =>
  typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v) ? v : undefined;

export function notificationFromPush(text: string | undefined): NotificationToShow {
  let payload: Record<string, unknown> = {};
  try {
    const parsed: unknown = text === undefined ? {} : JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) payload = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: a plain-text push still has to be shown (Chrome requires a visible notification).
    payload = { body: text };
  }
  const herald = payload.herald && typeof payload.herald === 'object' ? (payload.herald as Record<string, unknown>) : {};
  const ids: HeraldNotificationData = {};
  const messageId = uuid(payload.message_id) ?? uuid(herald.m);
  const deliveryId = uuid(payload.delivery_id) ?? uuid(herald.d);
  const deeplink = str(payload.deeplink) ?? str(herald.l);
  if (messageId) ids.message_id = messageId;
  if (deliveryId) ids.delivery_id = deliveryId;
  if (deeplink) ids.deeplink = deeplink;
  if (payload.data !== undefined) ids.data = payload.data;

  const options: NotificationToShow['options'] = { data: { herald: ids } };
  const body = str(payload.body);
  if (body) options.body = body;
  const icon = str(payload.icon);
  if (icon) options.icon = icon;
  const badge = str(payload.badge);
  if (badge) options.badge = badge;
  // The message id as tag: a copy re-sent after a crash replaces the first instead of showing twice.
  const tag = str(payload.tag) ?? messageId;
  if (tag) options.tag = tag;
  return { title: str(payload.title) ?? '', options };
}
