/**
 * The channel registry: every channel Herald delivers on, once. The API, the worker, the sandbox
 * link and the docs loop over this list; adding a channel is a folder and a line here
 * (docs/adding-a-channel.md).
 */
import type { TSchema } from '@sinclair/typebox';
import type { Channel, ContentPart } from '../domain/channels.js';
import type { Provider } from '../domain/provider-credentials.js';
import type { ChannelDefinition } from './channel.js';
import { apns } from './apns/definition.js';
import { fcm } from './fcm/definition.js';
import { webpush } from './webpush/definition.js';
import { email } from './email/definition.js';
import { sms } from './sms/definition.js';
import { PushContent } from './push/content.js';
import { EmailContent } from './email/content.js';
import { SmsContent } from './sms/content.js';

/** In this order the send API checks content and the worker starts consumers. */
export const channelRegistry: readonly ChannelDefinition[] = [apns, fcm, webpush, email, sms];

/** Each part of a message's content and its schema, as the send API's body names them. */
export const contentSchemas = { push: PushContent, email: EmailContent, sms: SmsContent } as const satisfies Record<ContentPart, TSchema>;

export function channelDefinition(name: Channel): ChannelDefinition {
  const d = channelRegistry.find((c) => c.name === name);
  if (!d) throw new Error(`no channel ${name}`);
  return d;
}

/** The channel that sends with a provider's credentials. */
export function channelOfProvider(provider: Provider): ChannelDefinition {
  const d = channelRegistry.find((c) => c.provider === provider);
  if (!d) throw new Error(`no channel sends with provider ${provider}`);
  return d;
}

