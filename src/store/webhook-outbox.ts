/**
 * The webhook outbox's writing half: the common table expressions a statement that records a fact
 * appends to write the events that fact means, in the same statement, so an event exists exactly
 * when its fact was committed (a rolled-back fact leaves no event, a committed one cannot lose it).
 *
 * The caller's statement defines `webhook_facts(project_id uuid, type text, data jsonb)` and then
 * `, ${webhookOutbox(sql, now)}`. An event is written only when the project has an endpoint whose
 * filter wants its type (the filter rule of domain/webhooks/event-types.ts#wants: an empty list
 * wants every type), with one delivery row per such endpoint that is enabled; a disabled one
 * finds the event kept for a replay. A project without endpoints costs one index probe per fact,
 * and writes nothing.
 */
import type { Sql, TransactionSql } from 'postgres';
import { channelOf, recipientPlatforms } from '../domain/channels.js';

type Db = Sql | TransactionSql;

const wanted = (type: string, w: string) => `(cardinality(${w}.event_types) = 0 or ${type} = any(${w}.event_types))`;

export const webhookOutbox = (sql: Db, now: Date | undefined) => sql`
  webhook_time as (
    -- The caller's clock when it has one, else the transaction's time (as the fact's own columns).
    select coalesce(${now ?? null}::timestamptz, now()) as at
  ), webhook_new_events as (
    insert into webhook_events (id, project_id, type, data, created_at)
    select gen_random_uuid(), f.project_id, f.type, f.data, t.at
    from webhook_facts f, webhook_time t
    where exists (select 1 from webhook_endpoints w where w.project_id = f.project_id and ${sql.unsafe(wanted('f.type', 'w'))})
    returning id, project_id, type, created_at
  ), webhook_new_deliveries as (
    insert into webhook_deliveries (event_id, endpoint_id, project_id, next_attempt_at, created_at, updated_at)
    select e.id, w.id, e.project_id, e.created_at, e.created_at, e.created_at
    from webhook_new_events e
    join webhook_endpoints w on w.project_id = e.project_id and w.enabled and ${sql.unsafe(wanted('e.type', 'w'))}
    returning 1
  )`;

/** The channel of a delivery row's platform, in SQL (domain/channels.ts#channelOf, written out). */
export const channelCase = (column: string) =>
  `case ${column} ${recipientPlatforms.map((p) => `when '${p}' then '${channelOf(p)}'`).join(' ')} end`;

/** A delivery row's `data` for message.* events: what the delivery was, and how it ended. */
export const deliveryEventData = (d: string, status = `${d}.status`, reason = `${d}.reason`) => `jsonb_build_object(
  'message_id', ${d}.message_id, 'delivery_id', ${d}.id, 'channel', ${channelCase(`${d}.platform`)},
  'platform', ${d}.platform, 'target', ${d}.target, 'target_kind', ${d}.target_kind,
  'status', ${status}, 'reason', ${reason})`;
