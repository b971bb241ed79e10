/** The email channel: addresses, over the project's SMTP account (provider `smtp`). */
import { channelFacts } from '../../domain/channels.js';
import { createEmailSender } from '../../providers/email/client.js';
import { defineChannel } from '../channel.js';
import { emailAccount } from './account.js';
import { EmailContent } from './content.js';
import { checkSmtpInput, SmtpBody, smtpHosts } from './credentials.js';
import { emailChannel } from './sender.js';

export const email = defineChannel({
  ...channelFacts.email,
  provider: 'smtp',
  simulator: 'email',
  content: {
    schema: EmailContent,
    check: (content) => (content.email && !content.email.html && !content.email.text
      ? { code: 'invalid_field', message: 'email needs html, text or both' }
      : undefined),
  },
  credentials: { schema: SmtpBody, check: checkSmtpInput, hosts: smtpHosts },
  // An email may take two SMTP transactions (a pooled connection found closed), 30 s each.
  worker: { lanes: 2, leaseMs: 90_000 },
  account: emailAccount,
  start(ctx) {
    const client = createEmailSender({ log: ctx.log.child({ part: 'email' }), ca: ctx.ca, share: ctx.share, guard: ctx.guard, clock: ctx.clock });
    return {
      sender: emailChannel({
        credentialsFor: emailAccount(ctx), send: (c, m) => client.send(c, m),
        publicUrl: ctx.publicUrl, unsubscribeSecret: ctx.unsubscribeSecret, now: ctx.clock,
      }),
      close: () => client.close(),
    };
  },
});
