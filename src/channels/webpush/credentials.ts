/** The webpush channel's credentials: the project's VAPID pair (RFC 8292) and its contact. */
import { Type } from '@sinclair/typebox';
import { checkWebPush, generateVapidKeyPair } from '../../domain/credential-checks.js';
import type { WebPushCredentials, WebPushCredentialsInput } from '../../domain/provider-credentials.js';

export const WebPushBody = Type.Object(
  {
    subject: Type.String({ minLength: 8, maxLength: 512, pattern: '^(mailto:|https://)', description: 'Contact for push services (RFC 8292 §2.1).' }),
    public_key: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{87}$', description: 'Base64url 65-byte uncompressed P-256 point.' })),
    private_key: Type.Optional(Type.String({ minLength: 42, maxLength: 20_000, description: 'PEM, or the base64url 32-byte scalar (leading zero bytes may be dropped). Never returned.' })),
  },
  { additionalProperties: false, description: 'Without a key pair the project keeps the one generated when it was created.' },
);

/** Without a key pair in the input, the project keeps the one it has (made with the project). */
export async function checkWebPushInput(input: unknown, current: () => Promise<WebPushCredentials | undefined>): Promise<WebPushCredentials> {
  return checkWebPush(input as WebPushCredentialsInput, (await current()) ?? generateVapidKeyPair());
}
