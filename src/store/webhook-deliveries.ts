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
  // Per enabled endpoint: its room (perEndpoint less its deliveries in flight, from the index of
  // leased rows) and its first due deliveries, by one ordered index probe each, so a claim costs
  // O(endpoints + picked) whatever the backlog (migration 0027). Endpoints take turns: every one's
  // first pick before any one's second, so no endpoint's backlog fills the others' room.
  return sql<ClaimedWebhook[]>`
    with room as (
      select w.id as endpoint_id,
             ${o.perEndpoint} - (select count(*)::int from webhook_deliveries b
                                  where b.endpoint_id = w.id and b.leased_until is not null and b.leased_until > ${o.now}) as n
      from webhook_endpoints w where w.enabled
    ), due as (
      select d.id, d.endpoint_id, row_number() over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as rn
      from room r cross join lateral (
        select d.id, d.endpoint_id, d.next_attempt_at from webhook_deliveries d
        where d.endpoint_id = r.endpoint_id and d.status = 'pending' and d.next_attempt_at <= ${o.now}
          and (d.leased_until is null or d.leased_until <= ${o.now})
        order by d.next_attempt_at, d.id limit greatest(r.n, 0)
      ) d
    ), picked as (
      select due.id from due order by due.rn, due.id limit ${o.limit}
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

/** One finished attempt, for recordAttempts. */
export interface FinishedAttempt {
  claim: Pick<ClaimedWebhook, 'id' | 'leased_until'>;
  result: AttemptResult;
  /** When it ended (the dispatcher's clock). */
  now: Date;
}

/**
 * Records finished attempts in one statement: each delivery's new state and its log row, fenced by
 * its claim's lease (a dispatcher whose lease lapsed and was taken over records nothing for it), and
 * each endpoint's failure streak. Answers, per attempt in order, since when its endpoint has been
 * failing (null after a success), or undefined when the claim was no longer this one's.
 *
 * Set-based so the dispatcher can share one commit among the attempts that end together
 * (store/group-commit.ts): one fsync per batch instead of per webhook. Within a batch, an
 * endpoint's streak is decided by its last attempt: ended by a success it is over; by a failure it
 * runs from before the batch, unless a success of the batch broke it (then from this failure).
 * The endpoint's row is written only when its streak changes (a first failure, a first success
 * after failures), so on the steady path of successes concurrent batches never queue on its lock.
 */
export async function recordAttempts(sql: Db, attempts: FinishedAttempt[]): Promise<({ failingSince: Date | null } | undefined)[]> {
  if (!attempts.length) return [];
  const col = <T>(f: (a: FinishedAttempt) => T) => attempts.map(f);
  // Times as ISO text and booleans as 0/1: the driver sends an array of Dates or booleans as one
  // value, not an array, and turns the text 'true' cast to bool[] into false.
  const rows = await sql<{ ord: number; moved: boolean; failing_since: Date | null }[]>`
    with input as (
      select id, leased_until, status, next_at, status_code, latency_ms, error, ok = 1 as ok, at, ord from unnest(
        ${col((a) => a.claim.id)}::uuid[], ${col((a) => a.claim.leased_until.toISOString())}::timestamptz[],
        ${col((a) => (a.result.ok ? 'succeeded' : a.result.nextAttemptAt ? 'pending' : 'failed'))}::text[],
        ${col((a) => a.result.nextAttemptAt?.toISOString() ?? null) as string[]}::timestamptz[], ${col((a) => a.result.statusCode) as number[]}::int[],
        ${col((a) => Math.round(a.result.latencyMs))}::int[], ${col((a) => a.result.error) as string[]}::text[],
        ${col((a) => (a.result.ok ? 1 : 0))}::int[], ${col((a) => a.now.toISOString())}::timestamptz[]
      ) with ordinality as u(id, leased_until, status, next_at, status_code, latency_ms, error, ok, at, ord)
    ), moved as (
      update webhook_deliveries d set status = i.status, attempts = d.attempts + 1, leased_until = null,
             next_attempt_at = coalesce(i.next_at, d.next_attempt_at), updated_at = i.at
      from input i where d.id = i.id and d.leased_until = i.leased_until
      returning d.id, d.endpoint_id, d.project_id, d.event_id, d.attempts
    ), logged as (
      insert into webhook_attempts (endpoint_id, project_id, event_id, attempt, status_code, latency_ms, error, created_at)
      select m.endpoint_id, m.project_id, m.event_id, m.attempts, i.status_code, i.latency_ms, i.error, i.at
      from moved m join input i on i.id = m.id
    ), per_endpoint as (
      select m.endpoint_id,
             (array_agg(i.ok order by i.ord desc))[1] as last_ok,
             (array_agg(i.at order by i.ord desc))[1] as last_at,
             bool_or(i.ok) as any_ok
      from moved m join input i on i.id = m.id group by m.endpoint_id
    ), streak as (
      update webhook_endpoints w
         set failing_since = case when p.last_ok then null when p.any_ok then p.last_at else coalesce(w.failing_since, p.last_at) end
      from per_endpoint p
      where w.id = p.endpoint_id and (case when p.last_ok then w.failing_since is not null else w.failing_since is null or p.any_ok end)
    )
    -- The statement's snapshot shows each endpoint as it was before the batch.
    select i.ord::int, (m.id is not null) as moved,
           case when i.ok then null
                when exists (select 1 from moved m2 join input i2 on i2.id = m2.id
                             where m2.endpoint_id = m.endpoint_id and i2.ok and i2.ord < i.ord) then i.at
                else coalesce(w.failing_since, i.at) end as failing_since
    from input i left join moved m on m.id = i.id left join webhook_endpoints w on w.id = m.endpoint_id
    order by i.ord`;
  return rows.map((r) => (r.moved ? { failingSince: r.failing_since } : undefined));
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
