/** Web Push subscription helpers: the VAPID key Herald gives, and comparing it with a subscription's. */
import type { Endpoint } from './transport.js';

export function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (value.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function sameBytes(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false;
  const view = new Uint8Array(a);
  return view.every((v, i) => v === b[i]);
}

/** GET /v1/sdk/config: the project's VAPID public key (an uncompressed P-256 point, base64url). */
export async function fetchVapidKey(to: Endpoint): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetch(to.endpoint.replace(/\/+$/, '') + '/v1/sdk/config', {
    headers: { authorization: `Bearer ${to.sdkKey}` },
    mode: 'cors',
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!res.ok) throw new Error(`Herald: GET /v1/sdk/config answered HTTP ${res.status}`);
  const body = (await res.json()) as { vapid_public_key?: unknown };
  if (typeof body.vapid_public_key !== 'string') throw new Error('Herald: this project has no VAPID public key');
  const key = base64UrlToBytes(body.vapid_public_key);
  if (key.length !== 65 || key[0] !== 4) throw new Error('Herald: the VAPID public key is not an uncompressed P-256 point');
  return key;
}

/** The registration's subscription for this key: kept when it matches, replaced when the key changed. */
export async function subscribe(reg: ServiceWorkerRegistration, key: Uint8Array<ArrayBuffer>): Promise<PushSubscription> {
  const existing = await reg.pushManager.getSubscription();
  if (existing && sameBytes(existing.options.applicationServerKey, key)) return existing;
  if (existing) await existing.unsubscribe();
  // userVisibleOnly: Chrome refuses silent push; every push shows a notification.
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
}

export function subscriptionBody(sub: PushSubscription): { endpoint: string; keys: { p256dh: string; auth: string } } {
  const json = sub.toJSON();
  const p256dh = json.keys?.p256dh;
  const auth = json.keys?.auth;
  if (!json.endpoint || !p256dh || !auth) throw new Error('Herald: the browser gave a push subscription without keys');
  return { endpoint: json.endpoint, keys: { p256dh, auth } };
}
