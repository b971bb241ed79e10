/** The body of PUT /v1/providers/{provider}, one TypeBox schema per provider (shapes: domain/provider-credentials.ts). */
import { Type, type TSchema } from '@sinclair/typebox';
import type { Provider } from '../../domain/provider-credentials.js';
import { oneLine } from '../schemas.js';

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

export const WebPushBody = Type.Object(
  {
    subject: Type.String({ minLength: 8, maxLength: 512, pattern: '^(mailto:|https://)', description: 'Contact for push services (RFC 8292 §2.1).' }),
    public_key: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{87}$', description: 'Base64url 65-byte uncompressed P-256 point.' })),
    private_key: Type.Optional(Type.String({ minLength: 42, maxLength: 20_000, description: 'PEM, or the base64url 32-byte scalar (leading zero bytes may be dropped). Never returned.' })),
  },
  { additionalProperties: false, description: 'Without a key pair the project keeps the one generated when it was created.' },
);

export const SmtpBody = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:\\[\\]_-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    security: Type.Optional(Type.Union([Type.Literal('tls'), Type.Literal('starttls'), Type.Literal('none')], {
      description: 'tls: TLS from the first byte (465); starttls (default): upgrade required (587); none: a local relay.',
    })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Never returned.' })),
    from: Type.Array(
      Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: oneLine, description: 'The From header\'s display name: one line, no CR or LF (RFC 5322 §2.2).' })), address: Type.String({ format: 'email', maxLength: 320 }) },
        { additionalProperties: false }),
      { minItems: 1, maxItems: 50 },
    ),
    dkim: Type.Optional(Type.Object(
      {
        domain: Type.String({ format: 'hostname', maxLength: 253 }),
        selector: Type.String({ pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', maxLength: 63 }),
        private_key_pem: pem('RSA, PEM. Never returned.'),
      },
      { additionalProperties: false },
    )),
  },
  { additionalProperties: false },
);

export const SmsBody = Type.Object(
  {
    account_sid: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'AC + 32 hex for Twilio.' }),
    auth_token: Type.String({ minLength: 1, maxLength: 256, description: 'Never returned.' }),
    from: Type.Optional(Type.String({ pattern: '^(\\+[1-9][0-9]{6,14}|(?=.{1,11}$)[A-Za-z0-9 ]*[A-Za-z][A-Za-z0-9 ]*)$', description: 'E.164 number or alphanumeric sender id.' })),
    messaging_service_sid: Type.Optional(Type.String({ pattern: '^MG[0-9a-fA-F]{32}$' })),
    base_url: Type.Optional(Type.String({ format: 'uri', maxLength: 2048, description: 'A Twilio-compatible API; Twilio\'s when absent.' })),
  },
  { additionalProperties: false },
);

export const bodyByProvider: Record<Provider, TSchema> = {
  apns: ApnsBody, fcm: FcmBody, webpush: WebPushBody, smtp: SmtpBody, sms: SmsBody,
};
