/**
 * Herald's Web SDK. Every call is written to the outbox in IndexedDB before anything goes on the
 * network, and resolves once that write has committed; a sender loop delivers the outbox to Herald
 * with the entries' ids, so Herald stores each exactly once however often it is re-sent.
 *
 *   import * as Herald from '/sdk/web/herald.js';
 *   await Herald.init({ sdkKey: 'sdk_…', endpoint: 'https://push.example.com' });
 *   await Herald.track('purchase', { amount: 12 });
 */
import { newId } from './ids.js';
import { sdkVersion } from './version.js';
import { append, installId, installationBodyKey, readMeta, size, writeMeta } from './outbox.js';
import { fetchVapidKey, subscribe, subscriptionBody } from './push.js';
import { createSender, type Sender } from './sender.js';
import { fetchInbox, markInbox } from './inbox.js';
import { renderInboxElement, type InboxElement, type InboxElementOptions } from './inbox-element.js';
import { inAppEngine, inAppState, startInApp } from './in-app.js';
import type {
  AttributeEdit, AttributeValue, EventAttributes, HeraldOptions, IdentifyOptions, InAppListener, InboxPage, InstallationBody, OutboxItem, StoredConfig,
} from './types.js';

export type { AttributeEdit, AttributeValue, EventAttributes, HeraldOptions, IdentifyOptions, InboxAction, InboxItem, InboxPage } from './types.js';
export type { InAppButton, InAppContent, InAppControls, InAppFormat, InAppListener, InAppMessage, InAppTrigger } from './types.js';
export type { InboxElement, InboxElementOptions } from './inbox-element.js';
export { InboxError } from './inbox.js';

interface Started {
  config: StoredConfig;
  options: HeraldOptions;
  sender: Sender;
}

let started: Promise<Started> | undefined;

/** Starts the SDK; call it once per page load. The other calls wait for it. */
export function init(options: HeraldOptions): Promise<void> {
  if (started) throw new Error('Herald.init was already called');
  if (!options || typeof options.sdkKey !== 'string' || options.sdkKey === '') throw new TypeError('Herald.init: sdkKey is required');
  if (typeof options.endpoint !== 'string' || !/^https?:\/\//.test(options.endpoint)) {
    throw new TypeError('Herald.init: endpoint must be an http(s) URL');
  }
  started = start(options);
  return started.then(() => undefined);
}

async function start(options: HeraldOptions): Promise<Started> {
  const config: StoredConfig = {
    sdkKey: options.sdkKey,
    endpoint: options.endpoint,
    outboxLimit: options.outboxLimit ?? 1000,
    retryBaseMs: options.retryBaseMs ?? 1000,
    retryCapMs: options.retryCapMs ?? 30_000,
  };
  // The service worker reads it: a push can arrive while no page is open.
  await writeMeta('config', config);
  const sender = createSender(config);
  const s: Started = { config, options, sender };
  await registerInstallation(s);
  addEventListener('online', () => sender.kick(true));
  // Leaving the page (or switching tabs) is the last chance to send before a possibly long pause.
  document.addEventListener('visibilitychange', () => sender.kick(true));
  sender.kick(true);
  startInApp(config, options, sender, (item) => enqueue(s, item));
  return s;
}

async function ready(): Promise<Started> {
  if (!started) throw new Error('call Herald.init({ sdkKey, endpoint }) first');
  return started;
}

async function enqueue(s: Started, item: OutboxItem): Promise<void> {
  await append(item, s.config.outboxLimit);
  s.sender.kick();
}

/**
 * Registers the installation again when what Herald knows of it changed (language, timezone, app
 * version, custom id, push subscription); unchanged, nothing is sent.
 */
async function registerInstallation(s: Started): Promise<void> {
  const body: InstallationBody = { platform: 'web' };
  const customId = await readMeta<string | null>('custom_id');
  if (customId) body.custom_id = customId;
  const token = await readMeta<string | null>('identity_token');
  if (customId && token) body.identity_token = token;
  if (navigator.language) body.language = navigator.language;
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (timezone) body.timezone = timezone;
  if (s.options.appVersion) body.app_version = s.options.appVersion;
  body.sdk_version = sdkVersion;
  const subscription = await readMeta<InstallationBody['web_push_subscription']>('push_subscription');
  if (subscription) body.web_push_subscription = subscription;
  const fingerprint = JSON.stringify([s.config.endpoint, s.config.sdkKey, body]);
  if ((await readMeta<string>('registered_installation')) === fingerprint) return;
  await enqueue(s, { kind: 'installation', id: newId(), body });
  await writeMeta(installationBodyKey, body);
  await writeMeta('registered_installation', fingerprint);
}

/** Records an event; resolves with its id once it is safely in the outbox. */
export async function track(name: string, attributes?: EventAttributes): Promise<string> {
  // Herald's rule for event names; checked here too so a typo fails at the call, not silently later.
  if (typeof name !== 'string' || !/^[a-z0-9_]{1,30}$/.test(name)) {
    throw new TypeError('Herald.track: the event name must be 1 to 30 characters from a-z, 0-9 and _');
  }
  const s = await ready();
  const id = newId();
  const item: OutboxItem = { kind: 'event', id, name, time: new Date().toISOString() };
  if (attributes !== undefined) item.attributes = attributes;
  await enqueue(s, item);
  inAppEngine((e) => e.event(name, attributes));
  return id;
}

/**
 * Ties this browser to your user id (and the profile Herald keeps for it). `identityToken`, made by
 * your server, proves the user is who the page says (docs/profiles.md); it is kept with the id and
 * sent with the later changes of this user's profile and installation. Identified as another user,
 * the browser is logged out of that one first (Herald refuses to move it without that step).
 */
export async function identify(customId: string, options: IdentifyOptions = {}): Promise<void> {
  if (typeof customId !== 'string' || customId === '') throw new TypeError('Herald.identify: customId is required');
  const token = options.identityToken;
  if (token !== undefined && (typeof token !== 'string' || token === '')) throw new TypeError('Herald.identify: identityToken must be a string');
  const s = await ready();
  const current = await readMeta<string | null>('custom_id');
  if (current && current !== customId) await logout();
  await writeMeta('custom_id', customId);
  await writeMeta('identity_token', token ?? null);
  const item: OutboxItem = { kind: 'identify', id: newId(), custom_id: customId };
  if (token) item.identity_token = token;
  await enqueue(s, item);
  await writeMeta('registered_installation', null);
  inAppEngine((e) => e.sync());
}

/** The token of the user this browser is identified as, for the entries that change their profile. */
async function identityToken(): Promise<{ identity_token?: string }> {
  const token = (await readMeta<string | null>('custom_id')) ? await readMeta<string | null>('identity_token') : null;
  return token ? { identity_token: token } : {};
}

/** Unties this browser from the user it was identified as. */
export async function logout(): Promise<void> {
  const s = await ready();
  const token = await identityToken();
  await writeMeta('custom_id', null);
  await writeMeta('identity_token', null);
  await enqueue(s, { kind: 'logout', id: newId(), ...token });
  await writeMeta('registered_installation', null);
  inAppEngine((e) => e.sync());
}

/** Sets profile attributes; a `null` value removes the attribute. */
export async function setAttributes(values: Record<string, AttributeValue>): Promise<void> {
  const set: Record<string, AttributeValue> = {};
  const unset: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v === null) unset.push(k);
    else set[k] = v;
  }
  const edit: AttributeEdit = {};
  if (Object.keys(set).length) edit.set = set;
  if (unset.length) edit.unset = unset;
  await editAttributes(edit);
}

/** Any change to profile attributes, applied by Herald in one step: set, unset, add to and remove from arrays. */
export async function editAttributes(edit: AttributeEdit): Promise<void> {
  const s = await ready();
  if (!edit.set && !edit.unset && !edit.add && !edit.remove) return;
  await enqueue(s, { kind: 'attributes', id: newId(), time: new Date().toISOString(), ...edit, ...(await identityToken()) });
}

/**
 * Registers the service worker, asks for notification permission, subscribes with the project's
 * VAPID key and registers the subscription with Herald (through the outbox). Resolves with the
 * subscription; rejects when the browser cannot push or the user refused.
 */
export async function subscribeToPush(): Promise<PushSubscriptionJSON> {
  const s = await ready();
  if (!('serviceWorker' in navigator) || typeof PushManager === 'undefined') throw new Error('Herald: this browser has no Web Push');
  const reg = await navigator.serviceWorker.register(s.options.serviceWorkerUrl ?? '/herald-sw.js', {
    scope: s.options.serviceWorkerScope ?? '/',
  });
  await activeWorker(reg);
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error(`Herald: notification permission is ${permission}`);
  const key = await fetchVapidKey(s.config);
  const subscription = await subscribe(reg, key);
  await writeMeta('push_subscription', subscriptionBody(subscription));
  await registerInstallation(s);
  return subscription.toJSON();
}

/** pushManager.subscribe needs an active worker; a fresh registration is still installing. */
function activeWorker(reg: ServiceWorkerRegistration): Promise<ServiceWorker> {
  if (reg.active) return Promise.resolve(reg.active);
  return new Promise((resolve, reject) => {
    const worker = reg.installing ?? reg.waiting;
    if (!worker) return reject(new Error('Herald: the service worker registration has no worker'));
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve(worker);
      if (worker.state === 'redundant') reject(new Error('Herald: the service worker failed to install'));
    });
  });
}

/** Sends what the outbox holds now; resolves when it is empty. */
export async function flush(): Promise<void> {
  const s = await ready();
  await s.sender.idle();
}

/** How many entries wait in the outbox (every tab's, and the service worker's). */
export function pending(): Promise<number> {
  return size();
}

/** This browser's install id, as Herald knows it. */
export function installationId(): Promise<string> {
  return installId();
}

/**
 * The inbox of the user this browser is identified as (identify with an identityToken first), or
 * of this browser's installation before identify: docs/inbox.md. Every answer carries the exact
 * unread count of the whole inbox.
 */
export const inbox = {
  /** A page, newest first; pass the page's nextCursor for the next one. */
  async fetch(o: { cursor?: string | null; limit?: number; archived?: boolean } = {}): Promise<InboxPage> {
    return fetchInbox((await ready()).config, o);
  },
  /** Marks the items (by id), or every item with 'all', read; resolves with the unread count after. */
  async markRead(ids: string | readonly string[] | 'all'): Promise<number> {
    return markInbox((await ready()).config, typeof ids === 'string' && ids !== 'all' ? [ids] : ids, 'read');
  },
  /** Marks an item opened (which also reads it), as the default element does when it is clicked. */
  async markOpened(id: string): Promise<number> {
    return markInbox((await ready()).config, [id], 'opened');
  },
  /** Archives items (they leave the inbox's pages; fetch with archived: true shows them), or brings them back. */
  async archive(ids: string | readonly string[], archived = true): Promise<number> {
    return markInbox((await ready()).config, typeof ids === 'string' ? [ids] : ids, archived ? 'archived' : 'unarchived');
  },
  /** The unread count alone. */
  async unreadCount(): Promise<number> {
    return (await fetchInbox((await ready()).config, { limit: 1 })).unread;
  },
  /** Renders the default inbox element into `container`; replace it with your own over fetch and markRead. */
  render(container: HTMLElement, options?: InboxElementOptions): InboxElement {
    return renderInboxElement(container, {
      fetch: (o) => inbox.fetch(o),
      mark: async (ids, action) => markInbox((await ready()).config, ids, action),
    }, options);
  },
};

/**
 * Renders in-app messages yourself: `listener(message, controls)` is called instead of the default
 * rendering, once the message may be shown (its impression is then recorded, unless the listener
 * returns false); report `controls.click(buttonId)` or `controls.dismiss()` when it ends. Pass
 * null to go back to the default rendering.
 */
export function onInAppMessage(listener: InAppListener | null): void {
  inAppState.listener = listener;
}

/** In-app messages (docs/sdk-web.md, "In-app messages"). */
export const inApp = {
  /** Holds messages while true (those triggered meanwhile wait); false shows what waits. */
  suppress(on: boolean): void {
    inAppState.suppressed = on;
    if (!on) inAppEngine((e) => e.next());
  },
};
