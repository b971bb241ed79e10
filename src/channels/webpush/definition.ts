/** The webpush channel: browsers, through their push service (RFC 8030, encrypted per RFC 8291, VAPID per RFC 8292). */
import { channelFacts } from '../../domain/channels.js';
import { buildWebPushPayload, webPushMaxPayloadBytes } from '../../domain/webpush-payload.js';
import { createWebPushSender } from '../../providers/webpush/client.js';
import { defineChannel } from '../channel.js';
import { checkPushFor, PushContent } from '../push/content.js';
import { webPushAccount } from './account.js';
import { checkWebPushInput, WebPushBody } from './credentials.js';
import { webPushChannel } from './sender.js';

export const webpush = defineChannel({
  ...channelFacts.webpush,
  provider: 'webpush',
  simulator: 'webpush',
  content: {
    schema: PushContent,
    check: (content, m) => checkPushFor('web', content, (p) => {
      const size = Buffer.byteLength(buildWebPushPayload(p, m.id, m.id));
      return size > webPushMaxPayloadBytes
        ? { code: 'push_payload_too_large', message: `the web push payload would be ${size} bytes; push services accept ${webPushMaxPayloadBytes} once encrypted` }
        : undefined;
    }),
  },
  credentials: {
    schema: WebPushBody,
    check: (input, ctx) => checkWebPushInput(input, ctx.current),
    deleteRefusal: {
      code: 'vapid_keys_required',
      message: 'browsers subscribed with this project\'s VAPID public key; PUT /v1/providers/webpush with a new pair to replace it',
    },
  },
  worker: { lanes: 2 },
  account: webPushAccount,
  start(ctx) {
    const client = createWebPushSender({ log: ctx.log.child({ part: 'webpush' }), ca: ctx.ca, share: ctx.share, guard: ctx.guard, clock: ctx.clock });
    return {
      sender: webPushChannel({ credentialsFor: webPushAccount(ctx), send: (c, r) => client.send(c, r) }),
      close: () => client.close(),
    };
  },
});
