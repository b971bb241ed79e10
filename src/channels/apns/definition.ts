/** The apns channel: iOS devices, through Apple Push Notification service (token-based auth). */
import { apnsMaxPayloadBytes, apnsPayloadBytes, buildApnsPush } from '../../domain/apns-payload.js';
import { channelFacts } from '../../domain/channels.js';
import { createApnsSender } from '../../providers/apns/client.js';
import { defineChannel } from '../channel.js';
import { checkPushFor, PushContent } from '../push/content.js';
import { apnsAccount } from './account.js';
import { ApnsBody, checkApnsInput } from './credentials.js';
import { apnsChannel } from './sender.js';

export const apns = defineChannel({
  ...channelFacts.apns,
  provider: 'apns',
  simulator: 'apns',
  content: {
    schema: PushContent,
    // The payload is built once with the real builder: over 4096 bytes APNs answers 413 PayloadTooLarge
    // (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
    check: (content, m) => checkPushFor('ios', content, (p) => {
      const size = apnsPayloadBytes(buildApnsPush(p, m.id, m.createdAt.getTime()));
      return size > apnsMaxPayloadBytes
        ? { code: 'push_payload_too_large', message: `the iOS push payload would be ${size} bytes; APNs accepts ${apnsMaxPayloadBytes}` }
        : undefined;
    }),
  },
  credentials: { schema: ApnsBody, check: checkApnsInput },
  worker: { lanes: 4 },
  account: apnsAccount,
  start(ctx) {
    const client = createApnsSender({ log: ctx.log.child({ part: 'apns' }), ca: ctx.ca, share: ctx.share, clock: ctx.clock });
    return {
      sender: apnsChannel({ credentialsFor: apnsAccount(ctx), send: (c, r) => client.send(c, r) }),
      close: () => client.close(),
    };
  },
});
