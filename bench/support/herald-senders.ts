/**
 * Herald's sender of each channel (src/providers/<channel>/client.ts), built against the sandbox as
 * the worker builds it (worker/workers.ts, with the accounts of src/channels/<channel>/account.ts), behind
 * the interface bench/channels.ts drives every side through (BenchSender). Each sender's module is
 * loaded only when its channel is measured, so a side's peak RSS carries no other channel's code.
 */
import { silentLogger } from '../../src/observability/logger.js';
import { uuidv7 } from '../../src/domain/ids.js';
import type { DeliveryOutcome } from '../../src/domain/outcome.js';
import type { SandboxLink } from '../../src/sandbox-link.js';
import type { CredentialsCache } from '../../src/store/credentials-cache.js';
import { apnsAccount } from '../../src/channels/apns/account.js';
import { fcmAccount } from '../../src/channels/fcm/account.js';
import { emailAccount } from '../../src/channels/email/account.js';
import { smsAccount } from '../../src/channels/sms/account.js';
import { newToken } from './workload.js';
import {
  apnsPayload, email, fcmToken, notification, pushTtlSeconds, sms, webPushPayload, webPushSubscriptions, type BenchSender, type Channel,
} from './channel-workload.js';

const failure = (o: DeliveryOutcome): string | undefined => (o.kind === 'delivered' ? undefined : `${o.kind}: ${o.reason}`);

/** A project without stored credentials: every channel goes to the sandbox, as in local development. */
const noStoredCredentials: CredentialsCache = { get: async () => undefined, clear: () => undefined };

export async function heraldSender(channel: Channel, link: SandboxLink): Promise<BenchSender> {
  const log = silentLogger();
  const ca = link.caPem;
  const accounts = { credentials: noStoredCredentials, sandbox: link, publicUrl: 'https://herald.example' };
  switch (channel) {
    case 'apns': {
      const { createApnsSender } = await import('../../src/providers/apns/client.js');
      const sender = createApnsSender({ log, ca });
      const creds = (await apnsAccount(accounts)('bench'))!;
      return {
        send: async () => failure(await sender.send(creds, {
          token: newToken(), environment: 'production', apnsId: uuidv7(), collapseId: 'bench', priority: 10, pushType: 'alert',
          expiration: Math.floor(Date.now() / 1000) + pushTtlSeconds, payload: apnsPayload,
        })),
        close: () => sender.close(),
      };
    }
    case 'fcm': {
      const { createFcmSender } = await import('../../src/providers/fcm/client.js');
      const sender = createFcmSender({ log, ca });
      const account = (await fcmAccount(accounts)('bench'))!;
      return {
        send: async (i) => failure(await sender.send(account, { body: JSON.stringify({ message: { token: fcmToken(i), notification } }) })),
        close: () => sender.close(),
      };
    }
    case 'webpush': {
      const { createWebPushSender } = await import('../../src/providers/webpush/client.js');
      const { generateVapidKeys } = await import('../../src/providers/webpush/vapid.js');
      // A project's VAPID pair is made with the project (there is no sandbox one).
      const vapid = { ...generateVapidKeys(), subject: 'mailto:bench@herald.example' };
      const subscription = webPushSubscriptions(link.endpoints.webpush, 'herald');
      const sender = createWebPushSender({ log, ca });
      return {
        send: async (i) => failure(await sender.send(vapid, {
          subscription: subscription(i), payload: webPushPayload, ttlSeconds: pushTtlSeconds, urgency: 'normal',
        })),
        close: () => sender.close(),
      };
    }
    case 'email': {
      const { createEmailSender } = await import('../../src/providers/email/client.js');
      const sender = createEmailSender({ log, ca });
      const { smtp } = (await emailAccount(accounts)('bench'))!;
      if ('unsupported' in smtp) throw new Error(smtp.unsupported);
      const from = { name: email.fromName, address: email.fromAddress(link.credentials.email.dkim.domain) };
      return {
        send: async (i) => failure(await sender.send(smtp, {
          deliveryId: `bench-${i}`, from, to: email.to(i), subject: email.subject, text: email.text, html: email.html,
          unsubscribeUrl: email.unsubscribeUrl,
        })),
        close: () => sender.close(),
      };
    }
    case 'sms': {
      const { createSmsSender } = await import('../../src/providers/sms/client.js');
      const sender = createSmsSender({ log, ca });
      const { account, from } = (await smsAccount(accounts)('bench'))!;
      return {
        send: async (i) => failure(await sender.send(account, { to: sms.to(i), from, body: sms.body })),
        close: () => sender.close(),
      };
    }
  }
}
