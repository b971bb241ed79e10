/**
 * inbox_items (migration 0028, docs/inbox.md): the fan-out writes a message's items in the
 * transaction of its deliveries; the inbox routes read a keyset page newest first with the exact
 * unread count, and mark items read, opened or archived. Every statement is scoped to one project
 * and one owner. Retention drops week partitions whole (store/partitions.ts).
 */
import type { Sql, TransactionSql } from 'postgres';
import { encodeInboxCursor, inboxWeek, type InboxCursor, type InboxOwner } from '../domain/inbox.js';
import { dropPartitionsBefore, ensureRangePartition } from './partitions.js';

type Db = Sql | TransactionSql;

/** The default retention of an item: 90 days (`--inbox-retention-days`). */
export const defaultInboxRetentionDays = 90;

export interface NewInboxItem {
  projectId: string;
  messageId: string;
  /** The message's created_at: the item's time and partition key. */
  createdAt: Date;
  owner: InboxOwner;
}

function partitionName(from: Date): string {
  return `inbox_items_${from.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/**
 * Writes the items in the caller's transaction (the fan-out's), their text copied from each
 * message's push part. An item already there (the same message for the same owner) stays as it
 * is, with its read state: a fan-out run again adds nothing. Returns how many were new.
 */
export async function writeInboxItems(tx: TransactionSql, items: readonly NewInboxItem[]): Promise<number> {
  const unique = [...new Map(items.map((i) => [`${i.projectId}\0${i.messageId}\0${i.owner.kind}\0${i.owner.id}`, i])).values()];
  if (!unique.length) return 0;
  const weeks = new Map(unique.map((i) => { const w = inboxWeek(i.createdAt); return [w.from.getTime(), w]; }));
  for (const w of [...weeks.values()].sort((a, b) => a.from.getTime() - b.from.getTime())) {
    await ensureRangePartition(tx, 'inbox_items', partitionName(w.from), w.from, w.to);
  }
  const rows = await tx`
    insert into inbox_items (project_id, owner_kind, owner, created_at, message_id, title, body, deeplink, data)
    select m.project_id, u.kind, u.owner, u.created_at, m.id,
           m.content #>> '{push,title}', m.content #>> '{push,body}', m.content #>> '{push,deeplink}', m.content #> '{push,data}'
    from unnest(${unique.map((i) => i.messageId)}::uuid[], ${unique.map((i) => i.projectId)}::uuid[],
                ${unique.map((i) => i.owner.kind)}::text[], ${unique.map((i) => i.owner.id)}::text[],
                ${unique.map((i) => i.createdAt.toISOString())}::timestamptz[]) as u(message_id, project_id, kind, owner, created_at)
    join messages m on m.id = u.message_id and m.project_id = u.project_id
    on conflict do nothing
    returning 1`;
  return rows.length;
}

/**
 * Writes an in-app message's item (docs/in-app.md) in the caller's transaction, the one that
 * stores the owner's first impression of it; its text is the message's as rendered for the owner.
 * The item's time is the impression's (retention counts from when the owner first saw it). An
 * item already there for this message and owner stays as it is. Returns whether it was new.
 */
export async function writeInAppInboxItem(
  tx: TransactionSql,
  i: { projectId: string; messageId: string; owner: InboxOwner; createdAt: Date; title: string; body: string; deeplink: string | null; data: Record<string, unknown> },
): Promise<boolean> {
  const w = inboxWeek(i.createdAt);
  await ensureRangePartition(tx, 'inbox_items', partitionName(w.from), w.from, w.to);
  const rows = await tx`
    insert into inbox_items (project_id, owner_kind, owner, created_at, message_id, title, body, deeplink, data)
    select ${i.projectId}, ${i.owner.kind}, ${i.owner.id}, ${i.createdAt}, ${i.messageId}, ${i.title}, ${i.body}, ${i.deeplink}, ${tx.json(i.data as never)}
    where not exists (select 1 from inbox_items where project_id = ${i.projectId} and owner_kind = ${i.owner.kind} and owner = ${i.owner.id} and message_id = ${i.messageId})
    on conflict do nothing
    returning 1`;
  return rows.length > 0;
}

export interface InboxItem {
  id: string;
  created_at: Date;
  title: string;
  body: string;
  deeplink: string | null;
  data: Record<string, unknown> | null;
  read_at: Date | null;
  opened_at: Date | null;
  archived_at: Date | null;
}

export interface InboxPage {
  items: InboxItem[];
  /** Unread items of the whole inbox (not of the page), counted in the page's snapshot. */
  unread: number;
  next_cursor: string | null;
}

const ownerIs = (sql: Db, projectId: string, owner: InboxOwner) =>
  sql`project_id = ${projectId} and owner_kind = ${owner.kind} and owner = ${owner.id}`;

/**
 * One page, newest first, after `cursor` (keyset on (created_at, id): no offset, so an item
 * arriving meanwhile neither repeats nor hides one), with the unread count. Both are one
 * statement, so they come from one snapshot: the count is exactly that of the inbox the page was
 * read from. Items older than `since` (retention) are left out, whether or not their week was dropped yet.
 */
export async function inboxPage(
  sql: Db, projectId: string, owner: InboxOwner, o: { limit: number; cursor?: InboxCursor | undefined; archived: boolean; since: Date },
): Promise<InboxPage> {
  const after = o.cursor ? sql`and (created_at, message_id) < (${o.cursor.at}::timestamptz, ${o.cursor.id}::uuid)` : sql``;
  const rows = await sql<(Omit<InboxItem, 'created_at'> & { at: string | null; created_at: Date; unread: number })[]>`
    with page as (
      select message_id as id, created_at, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
             title, body, deeplink, data, read_at, opened_at, archived_at
      from inbox_items
      where ${ownerIs(sql, projectId, owner)} and created_at > ${o.since}
        and (archived_at is not null) = ${o.archived} ${after}
      order by created_at desc, message_id desc
      limit ${o.limit + 1}
    ), unread as (
      select count(*)::int as unread from inbox_items
      where ${ownerIs(sql, projectId, owner)} and created_at > ${o.since} and read_at is null
    )
    select p.*, u.unread from unread u left join page p on true
    order by p.created_at desc, p.id desc`;
  const unread = rows[0]?.unread ?? 0;
  const found = rows.filter((r) => r.id !== null);
  const items = found.slice(0, o.limit).map(({ unread: _u, at: _a, ...item }) => item);
  const last = found.length > o.limit ? found[o.limit - 1] : undefined;
  return { items, unread, next_cursor: last ? encodeInboxCursor({ at: last.at!, id: last.id }) : null };
}

/** What a mark does to an item: read it; open it (which reads it); archive it (which reads it) or bring it back. */
export const inboxActions = ['read', 'opened', 'archived', 'unarchived'] as const;
export type InboxAction = (typeof inboxActions)[number];

/**
 * Marks the owner's items named by `ids` (message ids), or all of them, in one transaction: the
 * rows are locked in key order (two marks of one inbox never deadlock), only those not yet in
 * that state change (the first time read, opened or archived is kept), and the unread count is
 * read after the change in the same transaction, so it counts every item committed by then.
 */
export async function markInbox(
  sql: Sql, projectId: string, owner: InboxOwner, o: { ids: readonly string[] | 'all'; action: InboxAction; since: Date; now: Date },
): Promise<{ updated: number; unread: number }> {
  const which = o.ids === 'all' ? sql`` : sql`and message_id = any(${o.ids as string[]}::uuid[])`;
  const pending = {
    read: sql`read_at is null`, opened: sql`opened_at is null`, archived: sql`archived_at is null`, unarchived: sql`archived_at is not null`,
  }[o.action];
  const now = o.now;
  return sql.begin(async (tx) => {
    const changed = await tx`
      with target as (
        select created_at, message_id from inbox_items
        where ${ownerIs(tx, projectId, owner)} and created_at > ${o.since} ${which} and ${pending}
        order by created_at, message_id
        for update
      )
      update inbox_items i set
        read_at = case when ${o.action} = 'unarchived' then i.read_at else coalesce(i.read_at, ${now}) end,
        opened_at = case when ${o.action} = 'opened' then coalesce(i.opened_at, ${now}) else i.opened_at end,
        archived_at = case ${o.action} when 'archived' then coalesce(i.archived_at, ${now}) when 'unarchived' then null else i.archived_at end
      from target t
      where i.project_id = ${projectId} and i.owner_kind = ${owner.kind} and i.owner = ${owner.id}
        and i.created_at = t.created_at and i.message_id = t.message_id
      returning 1`;
    const [count] = await tx<{ unread: number }[]>`
      select count(*)::int as unread from inbox_items where ${ownerIs(tx, projectId, owner)} and created_at > ${o.since} and read_at is null`;
    return { updated: changed.length, unread: count!.unread };
  });
}

/** Removes a person's inbox (erasure, store/erasure.ts): their profile's items and their installations'. */
export async function eraseInbox(tx: TransactionSql, projectId: string, customId: string, installIds: readonly string[]): Promise<number> {
  const rows = await tx`
    delete from inbox_items where project_id = ${projectId}
      and ((owner_kind = 'profile' and owner = ${customId}) or (owner_kind = 'installation' and owner = any(${installIds as string[]}::text[])))
    returning 1`;
  return rows.length;
}

/**
 * Drops the week partitions whose every item is older than `retentionDays` at `now`. An item
 * lives between its retention and a week more (its week's end); the routes stop showing it at
 * its retention exactly.
 */
export async function dropExpiredInboxWeeks(sql: Sql, now: Date, retentionDays: number): Promise<string[]> {
  return dropPartitionsBefore(sql, 'inbox_items', inboxCutoff(now, retentionDays));
}

/** The oldest created_at an item may have and still be shown at `now`. */
export function inboxCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * 86_400_000);
}
