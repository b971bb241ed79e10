/**
 * The push part of a message, shared by the apns, fcm and webpush channels: common fields and, per
 * platform, the fields that differ there (domain/push.ts merges them). Each push channel checks its
 * own platform's result with its provider's real builder, so what the send API accepts fits later.
 */
import { Type } from '@sinclair/typebox';
import { apnsMaxCollapseIdBytes, reservedDataKeys } from '../../domain/apns-payload.js';
import type { MessageContent } from '../../domain/channels.js';
import { pushFor, type PushFields, type PushPlatform } from '../../domain/push.js';
import type { ContentProblem } from '../channel.js';

const pushFields = {
  title: Type.String({ minLength: 1, maxLength: 1024 }),
  body: Type.String({ minLength: 1, maxLength: 4096 }),
  deeplink: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  data: Type.Optional(Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { description: 'Custom keys delivered in the payload.' })),
  priority: Type.Optional(Type.Union([Type.Literal('high'), Type.Literal('normal')])),
  ttl_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 28 * 24 * 3600 })),
  collapse_id: Type.Optional(Type.String({ minLength: 1, maxLength: apnsMaxCollapseIdBytes })),
  badge: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  sound: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
};
const PushOverride = Type.Partial(Type.Object(pushFields, { additionalProperties: false }), {
  additionalProperties: false,
  description: 'Fields that differ on this platform; `data` keys are added to the common ones.',
});
export const PushContent = Type.Object(
  {
    ...pushFields,
    inbox: Type.Optional(Type.Boolean({
      description: 'Also keep the push in the inbox of each recipient (their profile, or an installation without a custom_id): docs/inbox.md.',
    })),
    ios: Type.Optional(PushOverride), android: Type.Optional(PushOverride), web: Type.Optional(PushOverride) },
  { additionalProperties: false },
);

/**
 * The checks every push platform shares (reserved data keys, the collapse id's size in bytes),
 * then the platform's own (`size`, with its provider's builder), on the platform's merged fields.
 */
export function checkPushFor(
  platform: PushPlatform,
  content: MessageContent,
  size: (fields: PushFields) => ContentProblem | undefined,
): ContentProblem | undefined {
  const push = content.push;
  if (!push) return undefined;
  const p = pushFor(push, platform);
  const where = pushWhere(platform, content);
  const reserved = reservedDataKeys.find((k) => p.data && k in p.data);
  if (reserved) return { code: 'reserved_data_key', message: `${where}.data.${reserved} is reserved by Herald` };
  if (p.collapse_id && Buffer.byteLength(p.collapse_id) > apnsMaxCollapseIdBytes) {
    return { code: 'invalid_field', message: `${where}.collapse_id must be at most ${apnsMaxCollapseIdBytes} bytes in UTF-8` };
  }
  return size(p);
}

/** "push" or "push (with push.<platform>)": where a problem of the platform's fields lies. */
export function pushWhere(platform: PushPlatform, content: MessageContent): string {
  return content.push?.[platform] ? `push (with push.${platform})` : 'push';
}
