/**
 * FCM's part of the delivery step (worker/deliver.ts): a delivery row becomes one HTTP v1
 * `messages:send`. The notification tag and apns-collapse-id default to the message id
 * (domain/fcm-message.ts), so a re-send after a crash replaces the first copy: re-sending is safe.
 */
import { pushFor } from '../../domain/push.js';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { buildFcmMessage } from '../../domain/fcm-message.js';
import type { FcmAccount, FcmSendRequest } from '../../providers/fcm/client.js';
import { noContent, type ChannelSender } from '../channel.js';

export function fcmChannel(deps: {
  credentialsFor(projectId: string): Promise<FcmAccount | undefined>;
  send(account: FcmAccount, req: FcmSendRequest): Promise<DeliveryOutcome>;
}): ChannelSender<FcmAccount> {
  return {
    channel: 'fcm',
    resendIsSafe: true,
    credentialsFor: deps.credentialsFor,
    accountOf: (a) => a.project_id,
    send: async (account, d) => {
      if (!d.content.push) return noContent('push');
      const built = buildFcmMessage(d.target, pushFor(d.content.push, 'android'), { messageId: d.message_id });
      if (!built.ok) {
        return built.code === 'invalid_token'
          ? { kind: 'token_invalid', reason: built.message, local: true }
          : { kind: 'rejected', reason: `${built.code}: ${built.message}`, local: true };
      }
      return deps.send(account, { body: built.body, traceparent: d.traceparent });
    },
  };
}
