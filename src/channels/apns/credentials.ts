/** The apns channel's credentials: a token-based (.p8) key, checked before it is stored. */
import { Type } from '@sinclair/typebox';
import { checkApns } from '../../domain/credential-checks.js';
import type { ApnsCredentials, ApnsCredentialsInput } from '../../domain/provider-credentials.js';

const pem = (description: string) => Type.String({ minLength: 1, maxLength: 20_000, description });

/** Apple's Team and Key IDs: 10 upper-case letters and digits (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns). */
const appleId = Type.String({ pattern: '^[A-Z0-9]{10}$' });

export const ApnsBody = Type.Object(
  {
    team_id: appleId,
    key_id: appleId,
    private_key_pem: pem('The .p8 file\'s content (EC P-256, PKCS#8 PEM). Never returned.'),
    topic: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9.-]+$', description: 'The bundle id (apns-topic).' }),
    environment: Type.Optional(Type.Union([Type.Literal('production'), Type.Literal('sandbox')])),
  },
  { additionalProperties: false },
);

export async function checkApnsInput(input: unknown): Promise<ApnsCredentials> {
  return checkApns(input as ApnsCredentialsInput);
}
