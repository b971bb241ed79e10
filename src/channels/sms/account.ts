/** The Twilio-compatible account a project's texts go out on, and its sender: stored, else the sandbox's. */
import type { SmsAccount } from '../../providers/sms/client.js';
import type { AccountContext } from '../channel.js';
import { sandboxMessagesPerMinute } from '../email/account.js';

/** A Twilio-compatible account and what messages are sent from. */
export interface SmsSendingAccount {
  account: SmsAccount;
  from?: string | undefined;
  messagingServiceSid?: string | undefined;
}

/** The sandbox's SMS simulator accepts any sender; this is Twilio's documented test number. */
const sandboxSmsFrom = '+15005550006';

export function smsAccount(o: AccountContext) {
  const s = o.sandbox;
  return async (projectId: string): Promise<SmsSendingAccount | undefined> => {
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
  };
}
