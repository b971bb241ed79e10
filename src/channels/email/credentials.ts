/** The email channel's credentials: an SMTP account (provider `smtp`), proven by a real login before it is stored. */
import { Type } from '@sinclair/typebox';
import { checkSmtp } from '../../domain/credential-checks.js';
import { oneLine } from '../../domain/email-message.js';
import type { SmtpCredentials, SmtpCredentialsInput } from '../../domain/provider-credentials.js';
import { createOutboundGuard } from '../../providers/outbound-guard.js';
import { verifySmtp } from '../../providers/email/verify-smtp.js';
import type { CredentialCheckContext } from '../channel.js';

const pem = (description: string) => Type.String({ minLength: 1, maxLength: 20_000, description });

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

export async function checkSmtpInput(input: unknown, ctx: CredentialCheckContext<'smtp'>): Promise<SmtpCredentials> {
  const smtp = checkSmtp(input as SmtpCredentialsInput);
  ctx.refusePrivateTargets(smtp);
  await verifySmtp(smtp, { guard: createOutboundGuard(ctx.allowance), ...ctx.smtp });
  return smtp;
}

export function smtpHosts(c: SmtpCredentials): { field: string; host: string; port: number }[] {
  return [{ field: 'host', host: c.host, port: c.port }];
}
