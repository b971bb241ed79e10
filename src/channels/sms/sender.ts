/**
 * SMS's part of the delivery step (worker/deliver.ts): a delivery row becomes one Twilio-compatible
 * Messages API call. Twilio has no idempotency key for creating a message, so re-sending is not
 * safe: a call cut off by a crash, or answered by a timeout after the request left, is recorded
 * `unknown` (its status callback may still settle it) rather than risk a second text. The message
 * SID, segments and encoding are recorded with the outcome; a 21610 (the number replied STOP to
 * the provider) opts the number out.
 */
import type { DeliveryOutcome } from '../../domain/outcome.js';
import { smsSegments } from '../../domain/sms-segments.js';
import { mayHaveBeenAccepted, type SmsAccount, type SmsToSend } from '../../providers/sms/client.js';
import { optedOutReason } from '../../providers/sms/outcome.js';
import { optOutPhones, recordSmsSends } from '../../store/sms.js';
import { smsStatusCallbackUrl } from '../../domain/sms-webhook-urls.js';
import type { SmsSendingAccount } from './account.js';
import { noContent, type ChannelSender } from '../channel.js';

export function smsChannel(deps: {
  credentialsFor(projectId: string): Promise<SmsSendingAccount | undefined>;
  send(account: SmsAccount, msg: SmsToSend): Promise<DeliveryOutcome>;
  /** Where the provider posts status callbacks. */
  callbackUrl: string;
  /** The worker's clock: stamps what is recorded (the opt-outs' webhook events). */
  now?: (() => number) | undefined;
}): ChannelSender<SmsSendingAccount> {
  return {
    channel: 'sms',
    resendIsSafe: false,
    credentialsFor: deps.credentialsFor,
    accountOf: (a) => a.account.account_sid,
    outcomeIsAmbiguous: mayHaveBeenAccepted,
    send: async (a, d) => {
      const content = d.content.sms;
      if (!content) return noContent('sms');
      return deps.send(a.account, {
        to: d.target, from: a.from, messagingServiceSid: a.messagingServiceSid, body: content.text,
        statusCallback: smsStatusCallbackUrl(deps.callbackUrl, d.project_id, d.id),
        traceparent: d.traceparent,
      });
    },
    async recordExtra(tx, results) {
      const byProject = new Map<string, { sends: Parameters<typeof recordSmsSends>[2]; stops: string[] }>();
      for (const { delivery: d, outcome: o } of results) {
        let p = byProject.get(d.project_id);
        if (!p) byProject.set(d.project_id, (p = { sends: [], stops: [] }));
        if (o.kind === 'delivered' && o.providerId && d.content.sms) {
          const { segments, encoding } = smsSegments(d.content.sms.text);
          p.sends.push({ deliveryId: d.id, providerMessageId: o.providerId, segments, encoding });
        }
        if (o.kind === 'token_invalid' && o.reason === optedOutReason) p.stops.push(d.target);
      }
      for (const [projectId, p] of byProject) {
        if (p.sends.length) await recordSmsSends(tx, projectId, p.sends);
        if (p.stops.length) await optOutPhones(tx, projectId, p.stops, 'provider_21610', deps.now && new Date(deps.now()));
      }
    },
  };
}
