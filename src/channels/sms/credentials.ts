/** The sms channel's credentials: a Twilio-compatible account, checked before it is stored. */
import { Type } from '@sinclair/typebox';
import { checkSms } from '../../domain/credential-checks.js';
import { portOfUrl } from '../../domain/network-address.js';
import type { SmsCredentials, SmsCredentialsInput } from '../../domain/provider-credentials.js';

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

export async function checkSmsInput(input: unknown): Promise<SmsCredentials> {
  return checkSms(input as SmsCredentialsInput);
}

/** Herald connects to the account's base_url (Twilio's when none was given). */
export function smsHosts(c: SmsCredentials): { field: string; host: string; port: number }[] {
  const url = new URL(c.base_url);
  return [{ field: 'base_url', host: url.hostname, port: portOfUrl(url) }];
}
