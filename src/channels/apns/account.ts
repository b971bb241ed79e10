/** The APNs account a project's pushes go out on: its stored key, else the sandbox's simulator. */
import { apnsDevelopmentOrigin, apnsProductionOrigin, type ApnsCredentials } from '../../providers/apns/client.js';
import type { AccountContext } from '../channel.js';

export function apnsAccount(o: AccountContext) {
  const s = o.sandbox;
  return async (projectId: string): Promise<ApnsCredentials | undefined> => {
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
  };
}
