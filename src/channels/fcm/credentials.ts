/** The fcm channel's credentials: a service account's key file, checked before it is stored. */
import { Type } from '@sinclair/typebox';
import { checkFcm } from '../../domain/credential-checks.js';
import { portOfUrl } from '../../domain/network-address.js';
import type { FcmCredentials, FcmCredentialsInput } from '../../domain/provider-credentials.js';

const pem = (description: string) => Type.String({ minLength: 1, maxLength: 20_000, description });

export const FcmBody = Type.Object(
  {
    service_account: Type.Object(
      {
        type: Type.String(),
        project_id: Type.String({ minLength: 1, maxLength: 128 }),
        private_key_id: Type.String({ minLength: 1, maxLength: 128 }),
        private_key: pem('RSA, PKCS#8 PEM. Never returned.'),
        client_email: Type.String({ format: 'email', maxLength: 320 }),
        token_uri: Type.String({ format: 'uri', pattern: '^https://', maxLength: 2048 }),
      },
      // The key file as Google gives it: its other fields (client_id, auth_uri...) are accepted and dropped.
      { additionalProperties: true, description: 'The service account\'s JSON key file, as downloaded.' },
    ),
  },
  { additionalProperties: false },
);

export async function checkFcmInput(input: unknown): Promise<FcmCredentials> {
  return checkFcm(input as FcmCredentialsInput);
}

/** Herald connects to the key file's token_uri for access tokens. */
export function fcmHosts(c: FcmCredentials): { field: string; host: string; port: number }[] {
  const url = new URL(c.service_account.token_uri);
  return [{ field: 'service_account.token_uri', host: url.hostname, port: portOfUrl(url) }];
}
