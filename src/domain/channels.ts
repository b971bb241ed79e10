/**
 * The plain facts about each channel that layers below the channel registry (src/channels/) need:
 * which platforms a channel reaches, which part of a message's content it sends, and what kind of
 * target its deliveries address. The registry's definitions (src/channels/<name>/definition.ts)
 * take their facts from here, so each is written once; everything else a channel is (content
 * schema, credentials, sender, fallback account) lives in its folder.
 *
 * Vocabulary (docs/architecture.md, "Channels"): a *channel* is a way Herald delivers (apns, fcm,
 * webpush, email, sms); a *platform* is what a recipient is on (ios, android, web for devices, and
 * email and sms, which are their own platform); a *provider* is the service and the credentials a
 * channel sends through (PUT /v1/providers/{provider}: apns, fcm, webpush, smtp, sms); a *target* is
 * what one delivery is sent to, and its kind says what that is.
 */
import type { PushMessage } from './push.js';

export const channels = ['apns', 'fcm', 'webpush', 'email', 'sms'] as const;
export type Channel = (typeof channels)[number];

/** A delivery's platform: a device platform for push, or the email and SMS channels themselves. */
export const recipientPlatforms = ['ios', 'android', 'web', 'email', 'sms'] as const;
export type RecipientPlatform = (typeof recipientPlatforms)[number];

/** What a delivery is sent to: a device token, a browser's push subscription (its endpoint), an
 *  email address, a phone number (E.164). */
export const targetKinds = ['token', 'subscription', 'address', 'number'] as const;
export type TargetKind = (typeof targetKinds)[number];

/** The parts of a message's content (messages.content is one JSON document keyed by part): push
 *  content is shared by the three push channels, each of which takes its platform's overrides. */
export const contentParts = ['push', 'email', 'sms'] as const;
export type ContentPart = (typeof contentParts)[number];

export interface ChannelFacts {
  name: Channel;
  /** The recipient platforms this channel reaches; each platform is reached by one channel. */
  platforms: readonly RecipientPlatform[];
  /** The part of a message's content this channel sends. */
  part: ContentPart;
  targetKind: TargetKind;
}

export const channelFacts = {
  apns: { name: 'apns', platforms: ['ios'], part: 'push', targetKind: 'token' },
  fcm: { name: 'fcm', platforms: ['android'], part: 'push', targetKind: 'token' },
  webpush: { name: 'webpush', platforms: ['web'], part: 'push', targetKind: 'subscription' },
  email: { name: 'email', platforms: ['email'], part: 'email', targetKind: 'address' },
  sms: { name: 'sms', platforms: ['sms'], part: 'sms', targetKind: 'number' },
} as const satisfies { [C in Channel]: ChannelFacts & { name: C } };

const byPlatform = new Map<string, ChannelFacts>(
  Object.values(channelFacts).flatMap((c: ChannelFacts) => c.platforms.map((p) => [p, c] as const)));

export function channelOf(platform: string): Channel {
  const c = byPlatform.get(platform);
  if (!c) throw new Error(`no channel reaches platform ${platform}`);
  return c.name;
}

/** What a delivery on `platform` is sent to. */
export function targetKindOf(platform: string): TargetKind {
  const c = byPlatform.get(platform);
  if (!c) throw new Error(`no channel reaches platform ${platform}`);
  return c.targetKind;
}

export interface EmailContent {
  subject: string;
  html?: string | undefined;
  text?: string | undefined;
  /** One of the project's sender identities (its address); the first one when absent. */
  from?: string | undefined;
  reply_to?: string | undefined;
}

export interface SmsContent {
  text: string;
}

/** A message's content: one document keyed by part (messages.content); a part absent reaches no one
 *  on the channels that send it. */
export interface MessageContent {
  push?: PushMessage | undefined;
  email?: EmailContent | undefined;
  sms?: SmsContent | undefined;
}
