/** Transactional messages and how each recipient fared. */
import type { Sql, TransactionSql } from 'postgres';
import { channelOf, contentParts, type Channel, type ContentPart, type MessageContent, type TargetKind } from '../domain/channels.js';

export type { Recipients } from '../domain/recipients.js';
import type { Recipients } from '../domain/recipients.js';

export interface NewMessage {
  id: string;
  projectId: string;
  groupId: string;
  recipients: Recipients;
  /** Keyed by content part (push, email, sms); at least one is present (the API checks). */
  content: MessageContent;
  createdAt: Date;
  expiresAt: Date | null;
  /** The caller's trace (domain/trace-context.ts#storedTrace), if the send carried a traceparent. */
  trace?: string | null | undefined;
}

export async function insertMessages(tx: TransactionSql, ms: NewMessage[]): Promise<void> {
  if (!ms.length) return;
  await tx`insert into messages (id, project_id, group_id, recipients, content, created_at, expires_at, trace)
    select * from unnest(${ms.map((m) => m.id)}::uuid[], ${ms.map((m) => m.projectId)}::uuid[], ${ms.map((m) => m.groupId)}::text[],
                         ${ms.map((m) => JSON.stringify(m.recipients))}::text[]::jsonb[], ${ms.map((m) => JSON.stringify(m.content))}::text[]::jsonb[],
                         ${ms.map((m) => m.createdAt.toISOString())}::timestamptz[],
                         ${ms.map((m) => m.expiresAt?.toISOString() ?? null) as string[]}::timestamptz[],
                         ${ms.map((m) => m.trace ?? null) as string[]}::text[])`;
}

/** `delivered`/`undelivered` come from providers that confirm delivery (SMS status callbacks);
 *  `unknown` from a crash that lost a send's outcome on a channel that cannot re-send safely;
 *  `skipped` when the recipient is suppressed, opted out or unsubscribed. */
export const deliveryStatuses = [
  'queued', 'sent', 'delivered', 'undelivered', 'failed', 'invalidated', 'expired', 'unknown', 'skipped',
] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

export interface MessageView {
  message_id: string;
  group_id: string;
  created_at: string;
  state: 'accepted' | 'processed';
  counts: Record<DeliveryStatus | 'total', number>;
  recipients: {
    delivery_id: string;
    platform: string;
    /** The channel that reaches the platform (apns, fcm, webpush, email, sms). */
    channel: Channel;
    /** What the delivery is sent to (this field was named `token` before migration 0014). */
    target: string;
    target_kind: TargetKind;
    install_id: string | null;
    /** The profile the fan-out reached through this delivery (null: named by target alone, or fanned out before migration 0021). */
    custom_id: string | null;
    status: DeliveryStatus;
    reason: string | null;
    attempts: number;
    updated_at: string;
  }[];
  next_cursor: string | null;
}

/**
 * One page of a message's recipients, ordered by delivery id; `cursor` is the last id seen. The
 * message, its counts and the page are read in one snapshot, so they agree even while workers
 * record outcomes (read apart, a delivery could show `expired` in the page yet not in the counts).
 */
export async function getMessage(
  sql: Sql,
  projectId: string,
  messageId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<MessageView | undefined> {
  return sql.begin('isolation level repeatable read read only', (tx) => readMessage(tx, projectId, messageId, page));
}

async function readMessage(
  sql: TransactionSql,
  projectId: string,
  messageId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<MessageView | undefined> {
  const [msg] = await sql<{ id: string; group_id: string; created_at: Date; fanned_out_at: Date | null }[]>`
    select id, group_id, created_at, fanned_out_at from messages where id = ${messageId} and project_id = ${projectId}`;
  if (!msg) return undefined;
  const counts = await sql<{ status: DeliveryStatus; n: number }[]>`
    select status, count(*)::int as n from deliveries where message_id = ${messageId} group by status`;
  const rows = await sql<Omit<MessageView['recipients'][number], 'channel'>[]>`
    select id as delivery_id, platform, target, target_kind, install_id, custom_id, status, reason, attempts, updated_at
    from deliveries
    where message_id = ${messageId} ${page.cursor ? sql`and id > ${page.cursor}` : sql``}
    order by id limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const recipients = rows.slice(0, page.limit);
  const tally = emptyTally();
  for (const c of counts) {
    tally[c.status] = c.n;
    tally.total += c.n;
  }
  return {
    message_id: msg.id,
    group_id: msg.group_id,
    created_at: msg.created_at.toISOString(),
    state: msg.fanned_out_at ? 'processed' : 'accepted',
    counts: tally,
    recipients: recipients.map((r) => ({ ...r, channel: channelOf(r.platform), updated_at: new Date(r.updated_at).toISOString() })),
    next_cursor: more ? recipients[recipients.length - 1]!.delivery_id : null,
  };
}

export interface MessageSummary {
  message_id: string;
  group_id: string;
  created_at: string;
  state: 'accepted' | 'processed';
  /** The content parts it carries (push, email, sms). */
  parts: ContentPart[];
  counts: Record<DeliveryStatus | 'total', number>;
}

/**
 * A page of the project's messages, newest first; `cursor` is the last message id seen. The page
 * and its counts are read in one snapshot, one grouped statement for the whole page.
 */
export async function listMessages(
  sql: Sql,
  projectId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ messages: MessageSummary[]; next_cursor: string | null }> {
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const rows = await tx<{ id: string; group_id: string; created_at: Date; fanned_out_at: Date | null; parts: ContentPart[] }[]>`
      select id, group_id, created_at, fanned_out_at, array(select jsonb_object_keys(content) order by 1) as parts
      from messages
      where project_id = ${projectId}
        ${page.cursor ? tx`and (created_at, id) < (select created_at, id from messages where id = ${page.cursor} and project_id = ${projectId})` : tx``}
      order by created_at desc, id desc limit ${page.limit + 1}`;
    const shown = rows.slice(0, page.limit);
    const counts = shown.length
      ? await tx<{ message_id: string; status: DeliveryStatus; n: number }[]>`
          select message_id, status, count(*)::int as n from deliveries
          where message_id = any(${shown.map((m) => m.id)}::uuid[]) group by message_id, status`
      : [];
    const tallies = new Map(shown.map((m) => [m.id, emptyTally()]));
    for (const c of counts) {
      const t = tallies.get(c.message_id)!;
      t[c.status] = c.n;
      t.total += c.n;
    }
    return {
      messages: shown.map((m) => ({
        message_id: m.id, group_id: m.group_id, created_at: m.created_at.toISOString(),
        state: m.fanned_out_at ? 'processed' : 'accepted', parts: m.parts.filter((p) => contentParts.includes(p)), counts: tallies.get(m.id)!,
      })),
      next_cursor: rows.length > page.limit ? shown[shown.length - 1]!.id : null,
    };
  });
}

const emptyTally = () => Object.fromEntries([...deliveryStatuses, 'total'].map((s) => [s, 0])) as MessageView['counts'];
