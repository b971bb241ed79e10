/**
 * Email's part of the delivery step (worker/deliver.ts): a delivery row becomes one message over
 * the project's SMTP account, DKIM-signed, with RFC 8058 one-click unsubscribe headers. Its
 * Message-ID is made from the delivery id, the same on every attempt, so a copy sent again after a
 * crash is recognised as the same message by receivers that de-duplicate on it: re-sending is
 * accepted. A hard bounce puts the address on the project's suppression list.
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { trackingUrl, unsubscribeUrl } from '../../domain/email-message.js';
import { signUnsubscribeToken } from '../../domain/unsubscribe-token.js';
import { signTrackingToken } from '../../domain/tracking-token.js';
import { addTracking } from '../../domain/email-tracking.js';
import type { EmailToSend } from '../../providers/email/client.js';
import type { SmtpAccount } from '../../providers/email/client.js';
import { addSuppressions, type NewSuppression } from '../../store/email-suppressions.js';
import type { EmailAccount } from './account.js';
import { noContent, type ChannelSender } from '../channel.js';

export function emailChannel(deps: {
  credentialsFor(projectId: string): Promise<EmailAccount | undefined>;
  send(account: SmtpAccount, msg: EmailToSend): Promise<DeliveryOutcome>;
  /** Where one-click unsubscribe links point (https), and the key that signs them. */
  publicUrl: string;
  unsubscribeSecret: Buffer;
  /** Dates the unsubscribe tokens (they expire). */
  now: () => number;
}): ChannelSender<EmailAccount> {
  // The open pixel and the click redirects (domain/email-tracking.ts), signed with the unsubscribe
  // secret under their own context (domain/tracking-token.ts), the same on every attempt.
  const tracked = (html: string, projectId: string, deliveryId: string, unsubscribe: string) => addTracking(html, {
    click: (link, url) => trackingUrl(deps.publicUrl, signTrackingToken(deps.unsubscribeSecret, { kind: 'click', projectId, deliveryId, link, url })),
    pixel: trackingUrl(deps.publicUrl, signTrackingToken(deps.unsubscribeSecret, { kind: 'open', projectId, deliveryId })),
    keep: [unsubscribe],
  }).html;
  return {
    channel: 'email',
    resendIsSafe: true,
    credentialsFor: deps.credentialsFor,
    accountOf: (a) => ('unsupported' in a.smtp ? 'unsupported' : `${a.smtp.host}:${a.smtp.port}/${a.smtp.username}`),
    send: async (account, d) => {
      const content = d.content.email;
      if (!content) return noContent('email');
      if ('unsupported' in account.smtp) return { kind: 'credentials_invalid', reason: account.smtp.unsupported };
      const from = (content.from && account.identities.find((i) => i.address.toLowerCase() === content.from!.toLowerCase()))
        ?? (content.from ? undefined : account.identities[0]);
      if (!from) return { kind: 'rejected', reason: `from ${content.from ?? '(none)'} is not one of the project's sender identities` };
      const unsubscribe = unsubscribeUrl(deps.publicUrl, signUnsubscribeToken(deps.unsubscribeSecret, d.project_id, d.target, new Date(deps.now())), d.id);
      return deps.send(account.smtp, {
        deliveryId: d.id,
        from,
        to: d.target,
        replyTo: content.reply_to,
        subject: content.subject,
        html: content.html === undefined ? undefined : tracked(content.html, d.project_id, d.id, unsubscribe),
        text: content.text,
        unsubscribeUrl: unsubscribe,
      });
    },
    async recordExtra(tx, results) {
      // One statement per project with bounces, not one per bounce.
      const byProject = new Map<string, NewSuppression[]>();
      for (const { delivery: d, outcome: o } of results) {
        if (o.kind !== 'token_invalid') continue;
        const list = byProject.get(d.project_id) ?? [];
        list.push({ address: d.target, reason: 'hard_bounce', detail: o.reason });
        byProject.set(d.project_id, list);
      }
      for (const [projectId, list] of byProject) await addSuppressions(tx, projectId, list, new Date(deps.now()));
    },
  };
}
