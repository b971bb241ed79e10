/**
 * APNs' part of the delivery step (worker/deliver.ts): a delivery row becomes one APNs request.
 * The delivery id is the apns-id and the collapse id is fixed per message, on every attempt, so a
 * re-send after a crash replaces the first copy on the device: re-sending is safe.
 */
import { buildApnsPush } from '../../domain/apns-payload.js';
import { pushFor, type PushMessage } from '../../domain/push.js';
import type { DeliveryOutcome } from '../../domain/outcome.js';
import type { DeliveryToSend } from '../../store/deliveries.js';
import type { ApnsCredentials, ApnsSendRequest } from '../../providers/apns/client.js';
import { noContent, type ChannelSender } from '../channel.js';

export function apnsChannel(deps: {
  credentialsFor(projectId: string): Promise<ApnsCredentials | undefined>;
  send(creds: ApnsCredentials, req: ApnsSendRequest): Promise<DeliveryOutcome>;
}): ChannelSender<ApnsCredentials> {
  return {
    channel: 'apns',
    resendIsSafe: true,
    credentialsFor: deps.credentialsFor,
    accountOf: (c) => `${c.teamId}/${c.keyId}`,
    send: async (creds, d) => (d.content.push ? deps.send(creds, toRequest(d, d.content.push)) : noContent('push')),
  };
}

function toRequest(d: DeliveryToSend, push: PushMessage): ApnsSendRequest {
  const parts = buildApnsPush(pushFor(push, 'ios'), d.message_id, d.created_at.getTime());
  return {
    token: d.target,
    environment: d.apns_environment === 'sandbox' ? 'sandbox' : 'production',
    apnsId: d.id,
    collapseId: parts.collapseId,
    priority: parts.priority,
    pushType: parts.pushType,
    expiration: parts.expiration,
    payload: parts.payload,
    traceparent: d.traceparent,
  };
}
