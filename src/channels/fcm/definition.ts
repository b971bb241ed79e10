/** The fcm channel: Android devices, through Firebase Cloud Messaging's HTTP v1 API. */
import { channelFacts } from '../../domain/channels.js';
import { buildFcmMessage } from '../../domain/fcm-message.js';
import { createFcmSender } from '../../providers/fcm/client.js';
import { defineChannel } from '../channel.js';
import { checkPushFor, pushWhere, PushContent } from '../push/content.js';
import { fcmAccount } from './account.js';
import { checkFcmInput, FcmBody, fcmHosts } from './credentials.js';
import { fcmChannel } from './sender.js';

export const fcm = defineChannel({
  ...channelFacts.fcm,
  provider: 'fcm',
  simulator: 'fcm',
  content: {
    schema: PushContent,
    check: (content, m) => checkPushFor('android', content, (p) => {
      const built = buildFcmMessage('size-check', p, { messageId: m.id });
      if (built.ok) return undefined;
      return { code: built.code === 'payload_too_large' ? 'push_payload_too_large' : 'invalid_field', message: `${pushWhere('android', content)}: ${built.message}` };
    }),
  },
  credentials: { schema: FcmBody, check: checkFcmInput, hosts: fcmHosts },
  worker: { lanes: 2 },
  account: fcmAccount,
  start(ctx) {
    const client = createFcmSender({ log: ctx.log.child({ part: 'fcm' }), ca: ctx.ca, share: ctx.share, guard: ctx.guard, clock: ctx.clock });
    return {
      sender: fcmChannel({ credentialsFor: fcmAccount(ctx), send: (c, r) => client.send(c, r) }),
      close: () => client.close(),
    };
  },
});
