/** The work-queue topics and their payloads. */
export const topics = {
  /** A committed transactional message, to resolve into deliveries. */
  fanout: 'message.fanout',
  /** One push to one APNs token. */
  apns: 'delivery.apns',
} as const;

export interface FanoutPayload {
  message_id: string;
}

export interface DeliveryPayload {
  delivery_id: string;
}
