/**
 * Web Push's part of the delivery step (worker/deliver.ts): a delivery row becomes one RFC 8030
 * push to the browser's subscription, encrypted for it (RFC 8291) and signed with the project's
 * VAPID key (RFC 8292). The Topic header and the notification tag come from the message, so a
 * re-send after a crash replaces the first copy, pending or shown: re-sending is safe.
 */
import { pushFor } from '../../domain/push.js';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { buildWebPushPayload, webPushTopic } from '../../domain/webpush-payload.js';
import type { VapidCredentials, WebPushSendRequest } from '../../providers/webpush/client.js';
import { noContent, type ChannelSender } from '../channel.js';

/** Without a ttl, a push service keeps a message 4 weeks for an offline browser (FCM's maximum). */
const defaultTtlSeconds = 28 * 24 * 3600;

export function webPushChannel(deps: {
  credentialsFor(projectId: string): Promise<VapidCredentials | undefined>;
  send(vapid: VapidCredentials, req: WebPushSendRequest): Promise<DeliveryOutcome>;
}): ChannelSender<VapidCredentials> {
  return {
    channel: 'webpush',
    resendIsSafe: true,
    credentialsFor: deps.credentialsFor,
    // The provider is the browser's push service: one breaker per origin (FCM's, Mozilla's...).
    accountOf: (_v, d) => originOf(d.web_push_subscription?.endpoint ?? d.target),
    send: async (vapid, d) => {
      if (!d.content.push) return noContent('push');
      const subscription = d.web_push_subscription;
      if (!subscription) return { kind: 'token_invalid', reason: 'the installation no longer has a push subscription', local: true };
      const push = pushFor(d.content.push, 'web');
      // No traceparent here: the push service is the one the user's browser chose (Google's,
      // Mozilla's, Apple's), not a provider the project picked, so the trace stays in Herald's logs
      // (https://www.w3.org/TR/trace-context/#privacy-considerations). Email carries none either:
      // its headers reach the recipient.
      return deps.send(vapid, {
        subscription,
        payload: buildWebPushPayload(push, d.message_id, d.id),
        ttlSeconds: push.ttl_seconds ?? defaultTtlSeconds,
        urgency: push.priority === 'normal' ? 'normal' : 'high',
        topic: webPushTopic(push, d.message_id),
      });
    },
  };
}

function originOf(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return 'invalid';
  }
}
