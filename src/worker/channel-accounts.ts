/**
 * Which provider account a project's deliveries go out on, per channel: the credentials the project
 * stored (PUT /v1/providers/{provider}, read through a short-lived cache), or else the sandbox's
 * when one is linked (local development, tests), or none (the delivery fails `<channel>_not_configured`).
 */
import type { CredentialsCache } from '../store/credentials-cache.js';
import type { SandboxLink } from '../sandbox-link.js';
import type { EmailIdentity } from '../domain/provider-credentials.js';
import { apnsDevelopmentOrigin, apnsProductionOrigin, type ApnsCredentials } from '../providers/apns/client.js';
import type { FcmAccount } from '../providers/fcm/client.js';
import type { VapidCredentials } from '../providers/webpush/client.js';
import type { SmtpAccount } from '../providers/email/client.js';
import { sandboxSmtpAccount } from '../providers/email/sandbox-account.js';
import type { SmsAccount } from '../providers/sms/client.js';

/** An SMTP account and the sender identities the project may use on it (the first is the default). */
export interface EmailAccount {
  smtp: SmtpAccount | { unsupported: string };
  identities: EmailIdentity[];
}

/** A Twilio-compatible account and what messages are sent from. */
export interface SmsSendingAccount {
  account: SmsAccount;
  from?: string | undefined;
  messagingServiceSid?: string | undefined;
}

/** The sandbox's own rate for email and SMS: far above a real account's default quota. */
const sandboxMessagesPerMinute = 600_000;

/** The sandbox's SMS simulator accepts any sender; this is Twilio's documented test number. */
const sandboxSmsFrom = '+15005550006';

export function channelAccounts(o: { credentials: CredentialsCache; sandbox: SandboxLink | undefined; publicUrl: string }) {
  const s = o.sandbox;
  return {
    async apns(projectId: string): Promise<ApnsCredentials | undefined> {
      const c = await o.credentials.get(projectId, 'apns');
      if (c) {
        return {
          teamId: c.team_id, keyId: c.key_id, privateKeyPem: c.private_key_pem, topic: c.topic,
          endpoint: { production: apnsProductionOrigin, sandbox: apnsDevelopmentOrigin },
        };
      }
      return s && {
        teamId: s.credentials.apns.team_id, keyId: s.credentials.apns.key_id,
        privateKeyPem: s.credentials.apns.private_key_pem, topic: s.credentials.apns.topic,
        endpoint: { production: s.endpoints.apns, sandbox: s.endpoints.apns },
      };
    },

    async fcm(projectId: string): Promise<FcmAccount | undefined> {
      const c = await o.credentials.get(projectId, 'fcm');
      if (c) return c.service_account;
      return s && { ...s.credentials.fcm.service_account, endpoint: s.endpoints.fcm };
    },

    /** Every project has its VAPID pair (made with the project); browsers subscribed with it. */
    async webpush(projectId: string): Promise<VapidCredentials | undefined> {
      const c = await o.credentials.get(projectId, 'webpush');
      // RFC 8292 §2.1 wants a mailto: or https: contact; until the project sets one, Herald's public URL.
      const fallback = o.publicUrl.startsWith('https:') ? o.publicUrl : 'mailto:postmaster@localhost';
      return c && { publicKey: c.public_key, privateKeyPem: c.private_key_pem, subject: c.subject || fallback };
    },

    async email(projectId: string): Promise<EmailAccount | undefined> {
      const c = await o.credentials.get(projectId, 'smtp');
      if (c) {
        const smtp: EmailAccount['smtp'] = c.security === 'none'
          ? { unsupported: 'SMTP without TLS is not supported: configure tls or starttls' }
          : {
              host: c.host, port: c.port, security: c.security, username: c.username ?? '', password: c.password ?? '',
              dkim: c.dkim && { domain: c.dkim.domain, selector: c.dkim.selector, privateKeyPem: c.dkim.private_key_pem },
            };
        return { smtp, identities: c.from };
      }
      return s && {
        // The simulator is local: no relay's sending quota to respect.
        smtp: { ...sandboxSmtpAccount(s), messagesPerMinute: sandboxMessagesPerMinute },
        identities: [{ name: 'Herald sandbox', address: `noreply@${s.credentials.email.dkim.domain}` }],
      };
    },

    async sms(projectId: string): Promise<SmsSendingAccount | undefined> {
      const c = await o.credentials.get(projectId, 'sms');
      if (c) {
        return {
          account: { account_sid: c.account_sid, auth_token: c.auth_token, endpoint: c.base_url },
          from: c.from, messagingServiceSid: c.messaging_service_sid,
        };
      }
      // The project's own sandbox account: its callbacks are signed with a token no other project's webhooks accept.
      return s && {
        account: { ...(await s.smsAccountFor(projectId)), endpoint: s.endpoints.sms, messagesPerMinute: sandboxMessagesPerMinute },
        from: sandboxSmsFrom,
      };
    },
  };
}

export type ChannelAccounts = ReturnType<typeof channelAccounts>;
