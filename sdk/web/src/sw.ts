/// <reference lib="webworker" />
/**
 * Herald's service worker: shows Herald's pushes, opens their deeplink on click, and records
 * "received" and "opened" in the same outbox the page uses. It imports nothing at run time (built
 * into one classic script), and reads the SDK key and endpoint the page's Herald.init stored.
 */
import { newId } from './ids.js';
import { notificationFromPush, type HeraldNotificationData } from './notification.js';
import { append, readMeta } from './outbox.js';
import { newPassState, sendPass, withOutboxLock } from './sender.js';
import type { StoredConfig } from './types.js';

declare const self: ServiceWorkerGlobalScope;

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  extend(event, onPush(event.data?.text()));
});

self.addEventListener('notificationclick', (event) => {
  extend(event, onClick(event.notification));
});

/**
 * Keeps the worker alive until `work` settles. Only an event the browser dispatched can be extended
 * (waitUntil throws on a synthetic one, such as a click a test dispatches); the work runs either way.
 */
function extend(event: ExtendableEvent, work: Promise<void>): void {
  const logged = work.catch((err: unknown) => console.warn('Herald service worker:', err));
  if (event.isTrusted) event.waitUntil(logged);
}

async function onPush(text: string | undefined): Promise<void> {
  const shown = notificationFromPush(text);
  await self.registration.showNotification(shown.title, shown.options);
  await record('received', shown.options.data.herald);
}

async function onClick(notification: Notification): Promise<void> {
  notification.close();
  const ids = ((notification.data as { herald?: HeraldNotificationData } | null)?.herald) ?? {};
  // Both at once: browsers allow openWindow only shortly after the click. Neither waits for the
  // other to succeed: an open that cannot be shown is still recorded, and the reverse.
  const results = await Promise.allSettled([open(ids.deeplink), record('opened', ids)]);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

async function open(deeplink: string | undefined): Promise<void> {
  const url = new URL(deeplink ?? '/', self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const same = windows.find((w) => w.url === url);
  if (same) {
    await same.focus();
    return;
  }
  await self.clients.openWindow(url);
}

/** Writes the push event to the outbox, then tries one send pass; the page retries what is left. */
async function record(type: 'received' | 'opened', ids: HeraldNotificationData): Promise<void> {
  const config = await readMeta<StoredConfig>('config');
  if (!config) return; // Herald.init never ran on this origin: there is nowhere to report to
  const item = { kind: 'push_event' as const, id: newId(), type, time: new Date().toISOString(),
    ...(ids.message_id ? { message_id: ids.message_id } : {}),
    ...(ids.delivery_id ? { delivery_id: ids.delivery_id } : {}) };
  await append(item, config.outboxLimit);
  await withOutboxLock(() => sendPass(config, newPassState()));
}
