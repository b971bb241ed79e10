/**
 * The channels Herald delivers on, what an email and an SMS message carry, and which channel
 * reaches a recipient's platform. Plain data.
 */
export const channels = ['apns', 'fcm', 'webpush', 'email', 'sms'] as const;
export type Channel = (typeof channels)[number];

/** A delivery's platform: a device platform for push, or the email and SMS channels themselves. */
export const recipientPlatforms = ['ios', 'android', 'web', 'email', 'sms'] as const;
export type RecipientPlatform = (typeof recipientPlatforms)[number];

export function channelOf(platform: string): Channel {
  switch (platform) {
    case 'ios': return 'apns';
    case 'android': return 'fcm';
    case 'web': return 'webpush';
    case 'email': return 'email';
    case 'sms': return 'sms';
    default: throw new Error(`no channel reaches platform ${platform}`);
  }
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
