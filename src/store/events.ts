/**
 * Events, stored at most once per client id: the id is claimed in `event_ids` and the event is
 * inserted in the same statement, only when the claim is new. A concurrent batch with the same id
 * waits on the claim's index slot, then finds it taken; so duplicates, even concurrent ones, are
 * acknowledged and never stored twice. Claims outlive the events (eventIdRetentionDays). The same
 * statement keeps each stored event an automation listens to in automation_inbox
 * (store/automation-journeys.ts#automationInbox): an event is acknowledged only with it.
 */
import type { Sql, TransactionSql } from 'postgres';
import { uuidv7 } from '../domain/ids.js';
import { automationInbox } from './automation-journeys.js';

/** The dedupe window: the promise is 7 days; a day more covers an upkeep that ran late. */
export const eventIdRetentionDays = 8;

export interface NewEvent {
  projectId: string;
  /** The client's id; null: no dedupe. */
  clientId: string | null;
  /** Null: the installation's custom_id at the time of storing, if it has one. */
  customId: string | null;
  installId: string | null;
  name: string;
  time: string;
  attributes: Record<string, unknown>;
}

/**
 * Stores events in one statement; one boolean per event: true if stored, false if a duplicate.
 * One statement is atomic on its own: `sql` may be a pool (PostgreSQL commits the statement before
 * answering) or the caller's transaction.
 *
 * The rows travel as one array per column, unnested by PostgreSQL: parsing typed arrays costs the
 * server a tenth of what jsonb_to_recordset on one JSON document did (EXPLAIN ANALYZE, 800 events).
 */
export async function storeEvents(sql: Sql | TransactionSql, events: NewEvent[]): Promise<boolean[]> {
  if (!events.length) return [];
  // Claims are taken in a fixed order (project, then client id) so two overlapping batches cannot
  // deadlock. The sort is stable, so of an id repeated within the call the first occurrence comes
  // first and stays the one stored; the repeats, adjacent to it, are duplicates.
  const order = events.map((_, i) => i).sort((a, b) => compareClaims(events[a]!, events[b]!));
  const rows = { id: [] as string[], projectId: [] as string[], clientId: [] as (string | null)[], customId: [] as (string | null)[],
    installId: [] as (string | null)[], name: [] as string[], time: [] as string[], attributes: [] as string[] };
  const eventOfRow: number[] = [];
  let previous: NewEvent | undefined;
  for (const i of order) {
    const e = events[i]!;
    if (previous && e.clientId !== null && e.clientId === previous.clientId && e.projectId === previous.projectId) continue;
    previous = e;
    eventOfRow.push(i);
    rows.id.push(uuidv7());
    rows.projectId.push(e.projectId);
    rows.clientId.push(e.clientId);
    rows.customId.push(e.customId);
    rows.installId.push(e.installId);
    rows.name.push(e.name);
    rows.time.push(e.time);
    rows.attributes.push(JSON.stringify(e.attributes));
  }
  // Only the duplicates come back (usually none): every event whose id was claimed, or that has
  // none, was inserted; sending back every stored row cost both ends a row each.
  const duplicates = await sql<{ project_id: string; client_id: string }[]>`
    with input as (
      select * from unnest(${rows.id}::uuid[], ${rows.projectId}::uuid[], ${rows.clientId}::text[], ${rows.customId}::text[],
                           ${rows.installId}::text[], ${rows.name}::text[], ${rows.time}::text[], ${rows.attributes}::text[])
        as e(id, project_id, client_id, custom_id, install_id, name, time, attributes)
    ),
    claimed as (
      insert into event_ids (project_id, client_id)
      select project_id, client_id from input where client_id is not null
      on conflict do nothing
      returning project_id, client_id
    ),
    stored as (
      insert into events (project_id, id, client_id, custom_id, install_id, name, time, attributes)
      select i.project_id, i.id, i.client_id,
             coalesce(i.custom_id, (select s.custom_id from installations s
                                    where s.project_id = i.project_id and s.install_id = i.install_id)),
             i.install_id, i.name, i.time::timestamptz, i.attributes::jsonb
      from input i
      where i.client_id is null
         or exists (select 1 from claimed c where c.project_id = i.project_id and c.client_id = i.client_id)
      returning project_id, id, custom_id, name, time, attributes
    ),
    ${automationInbox(sql)}
    select i.project_id, i.client_id from input i
    where i.client_id is not null
      and not exists (select 1 from claimed c where c.project_id = i.project_id and c.client_id = i.client_id)`;
  const seen = new Set(duplicates.map((d) => d.project_id + '\0' + d.client_id));
  const result = events.map(() => false);
  for (const event of eventOfRow) {
    const e = events[event]!;
    result[event] = e.clientId === null || !seen.has(e.projectId + '\0' + e.clientId);
  }
  return result;
}

/** Orders events by project, then client id; events without a client id (never deduplicated) last. */
function compareClaims(a: NewEvent, b: NewEvent): number {
  if (a.projectId !== b.projectId) return a.projectId < b.projectId ? -1 : 1;
  if (a.clientId === b.clientId) return 0;
  if (a.clientId === null) return 1;
  if (b.clientId === null) return -1;
  return a.clientId < b.clientId ? -1 : 1;
}

/**
 * Claims one client id outside an event (an SDK attribute change): true if new. Shares the
 * events' namespace and window.
 */
export async function claimClientId(tx: TransactionSql, projectId: string, clientId: string): Promise<boolean> {
  const r = await tx`insert into event_ids (project_id, client_id) values (${projectId}, ${clientId})
                     on conflict do nothing returning client_id`;
  return r.count === 1;
}

export interface StoredEvent {
  id: string;
  client_id: string | null;
  custom_id: string | null;
  install_id: string | null;
  name: string;
  time: Date;
  attributes: Record<string, unknown>;
  received_at: Date;
}

/** The latest events of a profile, newest first. */
export async function recentEvents(sql: Sql | TransactionSql, projectId: string, customId: string, limit: number): Promise<StoredEvent[]> {
  return sql<StoredEvent[]>`
    select id, client_id, custom_id, install_id, name, time, attributes, received_at from events
    where project_id = ${projectId} and custom_id = ${customId}
    order by time desc limit ${limit}`;
}

/** `now`: the scheduler's clock. */
export async function deleteExpiredEventIds(sql: Sql, now: Date): Promise<number> {
  const r = await sql`delete from event_ids where seen_at < ${now}::timestamptz - make_interval(days => ${eventIdRetentionDays})`;
  return r.count;
}

/**
 * SDK delivery feedback: stamps received_at / opened_at on the matching deliveries (first report
 * wins). Answers the deliveries it matched and what was reported of each, for their engagements
 * (store/engagements.ts).
 */
export async function recordPushFeedback(
  tx: TransactionSql,
  projectId: string,
  installId: string,
  feedback: { type: 'received' | 'opened'; deliveryId: string | null; messageId: string | null; time: string }[],
): Promise<{ id: string; received: boolean; opened: boolean }[]> {
  const rows = feedback.filter((f) => f.deliveryId || f.messageId)
    .map((f) => ({ type: f.type, delivery_id: f.deliveryId, message_id: f.messageId, time: f.time }));
  if (!rows.length) return [];
  return tx<{ id: string; received: boolean; opened: boolean }[]>`
    with f as (
      select d.id,
             min(u.time) filter (where u.type = 'received') as received,
             min(u.time) filter (where u.type = 'opened') as opened
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as u(type text, delivery_id uuid, message_id uuid, time timestamptz)
      join deliveries d on d.project_id = ${projectId}
        and (d.id = u.delivery_id or (u.delivery_id is null and d.message_id = u.message_id and d.install_id = ${installId}))
      group by d.id
    )
    update deliveries d set received_at = coalesce(d.received_at, f.received), opened_at = coalesce(d.opened_at, f.opened)
    from f where d.id = f.id
    returning d.id, (f.received is not null) as received, (f.opened is not null) as opened`;
}
