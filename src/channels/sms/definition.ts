/** The sms channel: phone numbers (E.164), through a Twilio-compatible Messages API. */
import { channelFacts } from '../../domain/channels.js';
import { createSmsSender } from '../../providers/sms/client.js';
import { defineChannel } from '../channel.js';
import { smsAccount } from './account.js';
import { SmsContent } from './content.js';
import { checkSmsInput, SmsBody, smsHosts } from './credentials.js';
import { smsChannel } from './sender.js';

export const sms = defineChannel({
  ...channelFacts.sms,
  provider: 'sms',
  simulator: 'sms',
  content: { schema: SmsContent },
  credentials: { schema: SmsBody, check: checkSmsInput, hosts: smsHosts },
  worker: { lanes: 2 },
  account: smsAccount,
  start(ctx) {
    const client = createSmsSender({ log: ctx.log.child({ part: 'sms' }), ca: ctx.ca, share: ctx.share, guard: ctx.guard, clock: ctx.clock });
    return {
      sender: smsChannel({ credentialsFor: smsAccount(ctx), send: (c, m) => client.send(c, m), callbackUrl: ctx.callbackUrl, now: ctx.clock }),
      close: () => client.close(),
    };
  },
});
