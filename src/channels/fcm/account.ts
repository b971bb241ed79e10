/** The FCM account a project's pushes go out on: its stored service account, else the sandbox's. */
import type { FcmAccount } from '../../providers/fcm/client.js';
import type { AccountContext } from '../channel.js';

export function fcmAccount(o: AccountContext) {
  const s = o.sandbox;
  return async (projectId: string): Promise<FcmAccount | undefined> => {
    const c = await o.credentials.get(projectId, 'fcm');
    if (c) return c.service_account;
    return s && { ...s.credentials.fcm.service_account, endpoint: s.endpoints.fcm };
  };
}
