/** The work-queue topics and their payloads. */
import { channelOf, type Channel } from '../domain/channels.js';
export const topics = {
  /** A committed transactional message, to resolve into deliveries. */
  fanout: 'message.fanout',
  /** One push to one APNs token. */
  apns: 'delivery.apns',
  /** One push to one FCM registration token. */
  fcm: 'delivery.fcm',
  /** One push to one browser's push subscription. */
  webpush: 'delivery.webpush',
  /** One email to one address. */
  email: 'delivery.email',
  /** One SMS to one number. */
  sms: 'delivery.sms',
  /** A stored bulk profile import, to apply chunk by chunk. */
  importProfiles: 'profiles.import',
  /** An audience with accepted member changes, to apply in order. */
  applyAudiences: 'audiences.apply',
} as const;

/** A channel's delivery topic: `delivery.<channel>`. */
export function deliveryTopicOf(channel: Channel): string {
  return topics[channel];
}

/** The delivery topic of a recipient's platform (the channel that reaches it). */
export function deliveryTopic(platform: string): string {
  return deliveryTopicOf(channelOf(platform));
}

export interface FanoutPayload {
  message_id: string;
}

export interface DeliveryPayload {
  delivery_id: string;
}

export interface ImportPayload {
  import_id: string;
}

export interface AudiencePayload {
  project_id: string;
  audience_id: string;
}
