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
  /** One keyset page of a campaign occurrence's audience, to write into the ledger. */
  campaignFanout: 'campaign.fanout',
  /** A campaign occurrence's due recipients, to hand to the delivery pipeline at the send rate. */
  campaignSend: 'campaign.send',
  /** One page of an export written to its file (worker/export-run.ts). */
  exportPage: 'export.page',
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
  /** A release: fan the message out again to the profiles whose capping deferral is due (store/capping.ts). */
  release?: true;
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

export interface CampaignFanoutPayload {
  campaign_id: string;
  occurrence: number;
  /** The last custom_id of the page before (the occurrence's cursor when this job was made). */
  after: string;
}

export interface CampaignSendPayload {
  campaign_id: string;
  occurrence: number;
  /** The link's number: only the occurrence's live link runs (worker/campaign-send.ts). */
  chain: number;
}

export interface ExportPayload {
  export_id: string;
  /** The page this job writes: only the export's current page runs. */
  page: number;
}
