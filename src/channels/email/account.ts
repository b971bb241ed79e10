/** The SMTP account a project's email goes out on and its sender identities: stored, else the sandbox's. */
import type { EmailIdentity } from '../../domain/provider-credentials.js';
import type { SmtpAccount } from '../../providers/email/client.js';
import { sandboxSmtpAccount } from '../../providers/email/sandbox-account.js';
import type { AccountContext } from '../channel.js';

/** An SMTP account and the sender identities the project may use on it (the first is the default). */
export interface EmailAccount {
  smtp: SmtpAccount | { unsupported: string };
  identities: EmailIdentity[];
}

/** The sandbox's own rate: far above a real account's default quota (the simulator is local). */
export const sandboxMessagesPerMinute = 600_000;

export function emailAccount(o: AccountContext) {
  const s = o.sandbox;
  return async (projectId: string): Promise<EmailAccount | undefined> => {
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
  };
}
