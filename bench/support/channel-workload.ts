/**
 * The messages of bench/channels.ts, one per index `i`, identical on the wire whichever side sends
 * them (Herald's sender, herald-senders.ts, or the library users would otherwise pick,
 * library-senders.ts): the same notification, the same email with the headers the SMTP simulator
 * requires of bulk mail, the same SMS form.
 */
import { createECDH, randomBytes } from 'node:crypto';
import type { PushSubscription } from '../../src/providers/webpush/client.js';
import { benchPush } from './workload.js';

export const channels = ['apns', 'fcm', 'webpush', 'email', 'sms'] as const;
export type Channel = (typeof channels)[number];

/** One side of the benchmark: sends message `i`, resolving to why it failed, or undefined once accepted. */
export interface BenchSender {
  send(i: number): Promise<string | undefined>;
  close(): Promise<void>;
}

export const notification = { title: benchPush.title, body: benchPush.body };

/** The APNs payload; tokens come from workload.ts newToken(). */
export const apnsPayload = JSON.stringify({ aps: { alert: notification } });
/** A push expires an hour after it is sent (apns-expiration, Web Push TTL). */
export const pushTtlSeconds = 3600;

/** A registration-token-shaped string (URL-safe, as FCM's), distinct per message. */
export const fcmToken = (i: number): string => `bench${i.toString(36)}:APA91b${'x'.repeat(120)}`;

/** What the service worker would get: the notification as JSON. */
export const webPushPayload = JSON.stringify(notification);

/**
 * Made-up browser subscriptions (docs/sandbox.md): each message its own subscription id on the
 * simulator, its keys from a small set of P-256 pairs. The encryption costs the same for any key,
 * and real key pairs are what web-push and Herald both check the p256dh value against.
 */
export function webPushSubscriptions(pushServiceUrl: string, prefix: string): (i: number) => PushSubscription {
  const keys = Array.from({ length: 16 }, () => {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  });
  return (i) => ({ endpoint: `${pushServiceUrl}/push/${prefix}-${i}`, keys: keys[i % keys.length]! });
}

/** One message of a transactional size, with both parts, from the sandbox's mail domain. */
export const email = {
  fromName: 'Herald benchmark',
  fromAddress: (mailDomain: string) => `noreply@${mailDomain}`,
  to: (i: number) => `user${i}@example.com`,
  subject: 'Your benchmark receipt',
  text: 'Thank you for your order. '.repeat(20),
  html: `<p>${'Thank you for your order. '.repeat(20)}</p>`,
  /** The RFC 8058 one-click URL the simulator requires of bulk mail (List-Unsubscribe). */
  unsubscribeUrl: 'https://herald.example/v1/email/unsubscribe/bench',
};

/** Twilio's documented test sender, which the simulator accepts, and a US number per message. */
export const sms = {
  from: '+15005550006',
  to: (i: number) => `+1415555${String(i % 10_000).padStart(4, '0')}`,
  body: 'Your benchmark code is 123456',
};
