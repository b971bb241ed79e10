/**
 * The webhook outbox's sending half (migration 0019): due deliveries claimed under a lease with
 * SKIP LOCKED, at most `perEndpoint` in flight per endpoint across every dispatcher (so a slow or
 * dead endpoint holds its own slots and no one else's), each attempt's result and log row, replays
 * by time range and the delivery log's pages. Times are the dispatcher's clock, passed in.
 */
import type { Sql, TransactionSql } from 'postgres';

type Db = Sql | TransactionSql;

export interface ClaimedWebhook {
  id: string;
  event_id: string;
  endpoint_id: string;
  project_id: string;
  /** Attempts made before this one. */
  attempts: number;
  type: string;
  data: unknown;
  event_created_at: Date;
  url: string;
  sealed: Buffer;
  previous_sealed: Buffer | null;
  previous_expires_at: Date | null;
  /** The lease this claim holds: the result is recorded only while it is still this one's. */
  leased_until: Date;
}

/**
 * Claims up to `limit` due deliveries of enabled endpoints, each endpoint's oldest first and the
 * endpoints interleaved (every endpoint's first due row before any endpoint's second), never
 * more than `perEndpoint` in flight for one endpoint.
 */
export async function claimDueWebhooks(sql: Db, o: { now: Date; leaseMs: number; limit: number; perEndpoint: number }): Promise<ClaimedWebhook[]> {
  if (o.limit <= 0) return [];
  return sql<ClaimedWebhook[]>`
    with due as (
      select d.id, d.endpoint_id, row_number() over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as rn
      from webhook_deliveries d
      where d.status = 'pending' and d.next_attempt_at <= ${o.now} and (d.leased_until is null or d.leased_until <= ${o.now})
    ), busy as (
      select endpoint_id, count(*)::int as n from webhook_deliveries
      where status = 'pending' and leased_until > ${o.now} group by endpoint_id
    ), picked as (
      select due.id from due
      join webhook_endpoints w on w.id = due.endpoint_id and w.enabled
      left join busy b on b.endpoint_id = due.endpoint_id
      where due.rn <= ${o.perEndpoint} - coalesce(b.n, 0)
      order by due.rn, due.id limit ${o.limit}
    ), locked as (
      select d.id from webhook_deliveries d join picked p on p.id = d.id
      where d.status = 'pending' and (d.leased_until is null or d.leased_until <= ${o.now})
      for update of d skip locked
    )
    update webhook_deliveries d set leased_until = ${o.now}::timestamptz + ${o.leaseMs} * interval '1 millisecond'
    from locked l, webhook_events e, webhook_endpoints w
    where d.id = l.id and e.id = d.event_id and w.id = d.endpoint_id
    returning d.id, d.event_id, d.endpoint_id, d.project_id, d.attempts, e.type, e.data, e.created_at as event_created_at,
              w.url, w.sealed, w.previous_sealed, w.previous_expires_at, d.leased_until`;
}

export interface AttemptResult {
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  ok: boolean;
  /** When the delivery is tried again; null when it is final (a success, or out of attempts). */
  nextAttemptAt: Date | null;
}

/**
 * Records one attempt: the delivery's new state, its log row and the endpoint's failure streak, in
 * one statement, fenced by the claim's lease (a dispatcher whose lease lapsed and was taken over
 * records nothing). Answers since when the endpoint has been failing (null after a success), or
 * undefined when the claim was no longer this one's.
 */
export async function recordAttempt(sql: Db, c: ClaimedWebhook, r: AttemptResult, now: Date): Promise<{ failingSince: Date | null } | undefined> {
  const status = r.ok ? 'succeeded' : r.nextAttemptAt ? 'pending' : 'failed';
  const rows = await sql<{ failing_since: Date | null }[]>`
    with moved as (
      update webhook_deliveries set status = ${status}, attempts = attempts + 1, leased_until = null,
             next_attempt_at = coalesce(${r.nextAttemptAt}::timestamptz, next_attempt_at), updated_at = ${now}
      where id = ${c.id} and leased_until = ${c.leased_until}
      returning id, endpoint_id, project_id, event_id, attempts
    ), logged as (
      insert into webhook_attempts (endpoint_id, project_id, event_id, attempt, status_code, latency_ms, error, created_at)
      select endpoint_id, project_id, event_id, attempts, ${r.statusCode}, ${Math.round(r.latencyMs)}, ${r.error}, ${now} from moved
    )
    update webhook_endpoints w set failing_since = ${r.ok ? null : sql`coalesce(w.failing_since, ${now}::timestamptz)`}
    from moved m where w.id = m.endpoint_id
    returning w.failing_since`;
  return rows.length ? { failingSince: rows[0]!.failing_since } : undefined;
}

/** Disables an endpoint still failing since `failingSince` or earlier; true when this call did. */
export async function disableFailingEndpoint(sql: Db, endpointId: string, failingSince: Date, reason: string, now: Date): Promise<{ project_id: string } | undefined> {
  const [row] = await sql<{ project_id: string }[]>`
    update webhook_endpoints set enabled = false, disabled_reason = ${reason}, updated_at = ${now}
    where id = ${endpointId} and enabled and failing_since <= ${failingSince}
    returning project_id`;
  return row;
}

/**
 * Queues again, for one endpoint, every event of [since, until) its filter wants that it has not
 * received: failed ones, pending ones (at once), and those written while it was disabled (which
 * have no delivery for it yet). Events from before the endpoint existed are not its. Answers how
 * many were queued; a disabled endpoint receives them once it is enabled again.
 */
export async function replayWebhooks(sql: Db, projectId: string, endpointId: string, range: { since: Date; until: Date }, now: Date): Promise<number | undefined> {
  const rows = await sql<{ n: number }[]>`
    with ep as (
      select id, project_id, event_types, created_at from webhook_endpoints where project_id = ${projectId} and id = ${endpointId}
    ), queued as (
      insert into webhook_deliveries (event_id, endpoint_id, project_id, next_attempt_at, created_at, updated_at)
      select e.id, ep.id, ep.project_id, ${now}, ${now}, ${now}
      from ep join webhook_events e on e.project_id = ep.project_id
        and e.created_at >= greatest(${range.since}::timestamptz, ep.created_at) and e.created_at < ${range.until}
        and (cardinality(ep.event_types) = 0 or e.type = any(ep.event_types))
      on conflict (endpoint_id, event_id) do update set status = 'pending', attempts = 0, next_attempt_at = ${now}, updated_at = ${now}
        where webhook_deliveries.status <> 'succeeded'
          and (webhook_deliveries.leased_until is null or webhook_deliveries.leased_until <= ${now})
      returning 1
    )
    select (select count(*)::int from queued) as n from ep`;
  if (!rows.length) return undefined;
  return rows[0]!.n;
}

export interface AttemptView {
  id: string;
  event_id: string;
  attempt: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  created_at: Date;
}

/** One page of an endpoint's delivery log, newest first; the cursor is the last attempt's id. */
export async function listAttempts(
  sql: Db, projectId: string, endpointId: string, page: { limit: number; before?: string | undefined },
): Promise<{ attempts: (AttemptView & { type: string })[]; next_cursor: string | null }> {
  const rows = await sql<(AttemptView & { type: string })[]>`
    select a.id::text as id, a.event_id, coalesce(e.type, 'unknown') as type, a.attempt, a.status_code, a.latency_ms, a.error, a.created_at
    from webhook_attempts a left join webhook_events e on e.id = a.event_id
    where a.project_id = ${projectId} and a.endpoint_id = ${endpointId}
      ${page.before !== undefined ? sql`and a.id < ${page.before}::bigint` : sql``}
    order by a.id desc limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const shown = rows.slice(0, page.limit);
  return { attempts: shown, next_cursor: more ? shown[shown.length - 1]!.id : null };
}

/** How long events and the delivery log are kept: the range a replay can reach. */
export const webhookRetentionMs = 30 * 86_400_000;

/**
 * Forgets events older than `before` that no endpoint still has to receive (their deliveries go
 * with them), and log rows older than `before`. Answers how many events went.
 */
export async function deleteOldWebhookEvents(sql: Db, before: Date): Promise<number> {
  await sql`delete from webhook_attempts where created_at < ${before}`;
  const rows = await sql`
    delete from webhook_events e where e.created_at < ${before}
      and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.status = 'pending')
    returning 1`;
  return rows.length;
}
