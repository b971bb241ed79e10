/**
 * The VAPID key pair a project's web pushes are signed with. Every project has its own (made with
 * the project) and browsers subscribed with it, so there is no sandbox fallback: the sandbox's push
 * service is reached through the subscription's endpoint.
 */
import type { VapidCredentials } from '../../providers/webpush/client.js';
import type { AccountContext } from '../channel.js';

export function webPushAccount(o: AccountContext) {
  return async (projectId: string): Promise<VapidCredentials | undefined> => {
    const c = await o.credentials.get(projectId, 'webpush');
    // RFC 8292 §2.1 wants a mailto: or https: contact; until the project sets one, Herald's public URL.
    const fallback = o.publicUrl.startsWith('https:') ? o.publicUrl : 'mailto:postmaster@localhost';
    return c && { publicKey: c.public_key, privateKeyPem: c.private_key_pem, subject: c.subject || fallback };
  };
}
