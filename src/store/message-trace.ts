/**
 * The facts domain/recipient-trace.ts reads for one (message, custom_id): the message, the
 * person's profile and installations as they are now, and the message's deliveries to them, in one
 * snapshot. Deliveries are matched by the custom_id the fan-out stored on them (migration 0021), or,
 * for older rows, by what they were sent to (the installations' install_ids, the profile's address
 * and number), which is what the fan-out resolved the custom_id to.
 */
import type { Sql } from 'postgres';
import { contentParts, type ContentPart } from '../domain/channels.js';
import type { TraceFacts } from '../domain/recipient-trace.js';
import type { Recipients } from '../domain/recipients.js';
import type { MessageView } from './messages.js';

export type TracedDelivery = MessageView['recipients'][number];

export async function loadRecipientTrace(
  sql: Sql,
  projectId: string,
  messageId: string,
  customId: string,
): Promise<{ facts: TraceFacts; deliveries: Omit<TracedDelivery, 'channel'>[] } | undefined> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const [msg] = await tx<{ recipients: Recipients; parts: ContentPart[]; fanned_out_at: Date | null }[]>`
      select recipients, array(select jsonb_object_keys(content)) as parts, fanned_out_at
      from messages where id = ${messageId} and project_id = ${projectId}`;
    if (!msg) return undefined;
    const [[profile], installations] = await Promise.all([
      tx<{ email: string | null; phone: string | null }[]>`
        select email, phone from profiles where project_id = ${projectId} and custom_id = ${customId}`,
      tx<{ install_id: string; platform: string; push_enabled: boolean }[]>`
        select install_id, platform, (push_token is not null) as push_enabled
        from installations where project_id = ${projectId} and custom_id = ${customId} order by install_id`,
    ]);
    const deliveries = await tx<Omit<TracedDelivery, 'channel'>[]>`
      select id as delivery_id, platform, target, target_kind, install_id, custom_id, status, reason, attempts, updated_at
      from deliveries
      where message_id = ${messageId} and project_id = ${projectId}
        and (custom_id = ${customId} or install_id = any(${installations.map((i) => i.install_id)}::text[])
             or (platform = 'email' and target = ${profile?.email?.toLowerCase() ?? null})
             or (platform = 'sms' and target = ${profile?.phone ?? null}))
      order by id`;
    return {
      facts: {
        customId,
        recipients: msg.recipients,
        parts: msg.parts.filter((p) => contentParts.includes(p)),
        fannedOut: msg.fanned_out_at !== null,
        profile,
        installations,
        deliveries,
      },
      deliveries: deliveries.map((d) => ({ ...d, updated_at: new Date(d.updated_at).toISOString() })),
    };
  });
}
