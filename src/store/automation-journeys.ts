/**
 * Journeys (migration 0029): one row per entry of a profile into an automation, its step, its due
 * time and its attempt counter; the events kept for the automations (the inbox); each profile's
 * entry history; the per-step counters; and the ledger of steps' side effects. Every statement
 * takes `now` from Herald's clock. The loop that runs them is scheduler/automations.ts.
 */
import type { Sql, TransactionSql } from 'postgres';

type Db = Sql | TransactionSql;

export interface Journey {
  id: string;
  project_id: string;
  automation_id: string;
  version: number;
  custom_id: string;
  entry_key: string;
  state: 'active' | 'completed' | 'exited';
  step: string;
  due_at: Date | null;
  seq: number;
  waiting: boolean;
  waits_for: string | null;
  sent: number;
  trigger: { name: string; time: string; attributes: Record<string, unknown> };
  entered_at: Date;
  ended_at: Date | null;
  exit_reason: string | null;
}

export interface InboxEvent {
  seq: string;
  project_id: string;
  event_id: string;
  custom_id: string;
  name: string;
  time: Date;
  attributes: Record<string, unknown>;
}

/**
 * What the event statement (store/events.ts#storeEvents) appends to keep, in the same statement,
 * every stored event of a profile whose name an automation of its project listens to. The caller
 * defines `stored(project_id, id, custom_id, name, time, attributes)`: the events it inserted.
 */
export const automationInbox = (sql: Db) => sql`
  automation_kept as (
    insert into automation_inbox (project_id, event_id, custom_id, name, time, attributes)
    select s.project_id, s.id, s.custom_id, s.name, s.time, s.attributes from stored s
     where s.custom_id is not null
       and exists (select 1 from automation_event_names n where n.project_id = s.project_id and n.name = s.name)
    returning 1
  )`;

/**
 * Takes up to `limit` kept events, oldest first, deleted in the caller's transaction (so they come
 * back if it rolls back). One transaction takes them at a time, under an advisory lock: a
 * profile's events are acted on in the order they were stored. Empty when another holds it.
 */
export async function takeInbox(tx: TransactionSql, limit: number): Promise<InboxEvent[]> {
  const [lock] = await tx<{ got: boolean }[]>`select pg_try_advisory_xact_lock(hashtext('herald.automation_inbox')) as got`;
  if (!lock?.got) return [];
  return tx<InboxEvent[]>`
    delete from automation_inbox where seq in (select seq from automation_inbox order by seq limit ${limit})
    returning seq::text, project_id, event_id, custom_id, name, time, attributes`;
}

/** The automations of a project listening to an event name, with their state and current version. */
export async function listeners(sql: Db, projectId: string, name: string): Promise<{ id: string; state: string; version: number }[]> {
  return sql<{ id: string; state: string; version: number }[]>`
    select a.id, a.state, a.version from automation_event_names n join automations a on a.id = n.automation_id
     where n.project_id = ${projectId} and n.name = ${name} order by a.id`;
}

const journeyColumns = (sql: Db) => sql`id, project_id, automation_id, version, custom_id, entry_key, state, step, due_at, seq, waiting, waits_for, sent, trigger, entered_at, ended_at, exit_reason`;

/** The profile's running journeys in one automation, locked. */
export async function runningJourneys(tx: TransactionSql, automationId: string, projectId: string, customId: string): Promise<Journey[]> {
  return tx<Journey[]>`
    select ${journeyColumns(tx)} from automation_journeys
     where project_id = ${projectId} and custom_id = ${customId} and state = 'active' and automation_id = ${automationId}
     order by id for update`;
}

/** Locks (creating it) the profile's entry history in the automation. */
export async function lockEntryHistory(tx: TransactionSql, automationId: string, customId: string): Promise<{ entries: number; last_ended_at: Date | null }> {
  await tx`insert into automation_profiles (automation_id, custom_id) values (${automationId}, ${customId}) on conflict do nothing`;
  const [row] = await tx<{ entries: number; last_ended_at: Date | null }[]>`
    select entries, last_ended_at from automation_profiles where automation_id = ${automationId} and custom_id = ${customId} for update`;
  return row!;
}

/**
 * Locks (creating it) the profile's entry-history row and answers whether the profile was inside
 * the automation's segment when last looked at: a segment trigger enters on a false -> true
 * change seen under this lock, so two processes looking at once make one entry.
 */
export async function lockSegmentMembership(tx: TransactionSql, automationId: string, customId: string): Promise<boolean> {
  await tx`insert into automation_profiles (automation_id, custom_id) values (${automationId}, ${customId}) on conflict do nothing`;
  const [row] = await tx<{ in_segment: boolean }[]>`
    select in_segment from automation_profiles where automation_id = ${automationId} and custom_id = ${customId} for update`;
  return row!.in_segment;
}

export async function setInSegment(tx: TransactionSql, automationId: string, customId: string, inside: boolean): Promise<void> {
  await tx`update automation_profiles set in_segment = ${inside} where automation_id = ${automationId} and custom_id = ${customId}`;
}

export async function entryKeyTaken(tx: TransactionSql, automationId: string, entryKey: string): Promise<string | undefined> {
  const [row] = await tx<{ id: string }[]>`select id from automation_journeys where automation_id = ${automationId} and entry_key = ${entryKey}`;
  return row?.id;
}

export async function insertJourney(tx: TransactionSql, j: { id: string; projectId: string; automationId: string; version: number; customId: string; entryKey: string; step: string; trigger: Journey['trigger']; now: Date; countsAsEntry: boolean }): Promise<void> {
  await tx`insert into automation_journeys (id, project_id, automation_id, version, custom_id, entry_key, state, step, due_at, trigger, entered_at)
           values (${j.id}, ${j.projectId}, ${j.automationId}, ${j.version}, ${j.customId}, ${j.entryKey}, 'active', ${j.step}, ${j.now},
                   ${tx.json(j.trigger as never)}, ${j.now})`;
  await tx`update automation_profiles set entries = entries + ${j.countsAsEntry ? 1 : 0}, last_entered_at = ${j.now}
           where automation_id = ${j.automationId} and custom_id = ${j.customId}`;
}

/**
 * The due journeys of every automation, oldest due first, locked; journeys another transaction
 * holds are skipped. Reads the partial index on due_at only.
 */
export async function claimDueJourneys(tx: TransactionSql, now: Date, limit: number): Promise<Journey[]> {
  return tx<Journey[]>`
    select ${journeyColumns(tx)} from automation_journeys
     where state = 'active' and due_at <= ${now}
     order by due_at limit ${limit} for update skip locked`;
}

/**
 * Moves a journey from attempt `seq` to its next state. Fenced by `seq`: a run of a step the
 * journey has already passed changes nothing (false).
 */
export async function moveJourney(tx: TransactionSql, j: Journey, to: { step: string; dueAt: Date | null; waiting: boolean; waitsFor: string | null; sent: number; ended?: { state: 'completed' | 'exited'; reason: string | null; at: Date } | undefined }): Promise<boolean> {
  const r = await tx`
    update automation_journeys set step = ${to.step}, due_at = ${to.ended ? null : to.dueAt}, seq = seq + 1, waiting = ${to.waiting},
           waits_for = ${to.waitsFor}, sent = ${to.sent},
           state = ${to.ended?.state ?? 'active'}, ended_at = ${to.ended?.at ?? null}, exit_reason = ${to.ended?.reason ?? null}
     where id = ${j.id} and seq = ${j.seq} and state = 'active'`;
  if (r.count === 1 && to.ended) {
    await tx`update automation_profiles set last_ended_at = ${to.ended.at} where automation_id = ${j.automation_id} and custom_id = ${j.custom_id}`;
  }
  return r.count === 1;
}

/**
 * Claims a step's side effect for (journey, step, attempt): true the first time only. A step run
 * again (a second worker, a crash replayed) finds the claim and does nothing twice.
 */
export async function claimStepEffect(tx: TransactionSql, journeyId: string, step: string, attempt: number): Promise<boolean> {
  const r = await tx`insert into automation_sends (journey_id, step, attempt) values (${journeyId}, ${step}, ${attempt}) on conflict do nothing returning 1`;
  return r.count === 1;
}

export async function recordStepMessage(tx: TransactionSql, journeyId: string, step: string, attempt: number, messageId: string): Promise<void> {
  await tx`update automation_sends set message_id = ${messageId} where journey_id = ${journeyId} and step = ${step} and attempt = ${attempt}`;
}

export interface CountDelta { step: string; metric: string; reason?: string | undefined; n?: number | undefined }

/**
 * Adds to the automation's counters, in the caller's transaction: summed by key first and written
 * in key order, so two transactions never lock two counter rows in opposite orders.
 */
export async function addCounts(tx: TransactionSql, automationId: string, version: number, deltas: CountDelta[]): Promise<void> {
  if (!deltas.length) return;
  const sum = new Map<string, { step: string; metric: string; reason: string; n: number }>();
  for (const d of deltas) {
    const reason = d.reason ?? '';
    const key = `${d.step}\0${d.metric}\0${reason}`;
    const cur = sum.get(key) ?? { step: d.step, metric: d.metric, reason, n: 0 };
    cur.n += d.n ?? 1;
    sum.set(key, cur);
  }
  const rows = [...sum.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  await tx`
    insert into automation_counts (automation_id, version, step, metric, reason, n)
    select ${automationId}, ${version}, step, metric, reason, n
      from unnest(${rows.map((r) => r.step)}::text[], ${rows.map((r) => r.metric)}::text[], ${rows.map((r) => r.reason)}::text[], ${rows.map((r) => r.n)}::bigint[])
        as c(step, metric, reason, n)
    on conflict (automation_id, version, step, metric, reason) do update set n = automation_counts.n + excluded.n`;
}

export interface CountRow { version: number; step: string; metric: string; reason: string; n: number }

export async function automationCounts(sql: Db, automationId: string): Promise<CountRow[]> {
  return sql<CountRow[]>`
    select version, step, metric, reason, n::int as n from automation_counts
     where automation_id = ${automationId} and n <> 0 order by version, step, metric, reason`;
}

/**
 * Ends every running journey of a stopped automation (reason automation_stopped), with its counts,
 * in one statement per table: set-based, however many journeys wait.
 */
export async function exitAllJourneys(tx: TransactionSql, automationId: string, reason: string, now: Date): Promise<number> {
  const ended = await tx<{ version: number; step: string; waiting: boolean; n: number }[]>`
    with ended as (
      update automation_journeys set state = 'exited', exit_reason = ${reason}, ended_at = ${now}, due_at = null, seq = seq + 1
       where automation_id = ${automationId} and state = 'active'
      returning custom_id, version, step, waiting
    ), profiles as (
      update automation_profiles p set last_ended_at = ${now} from ended e
       where p.automation_id = ${automationId} and p.custom_id = e.custom_id
      returning 1
    )
    select version, step, waiting, count(*)::int as n from ended group by version, step, waiting`;
  const byVersion = new Map<number, CountDelta[]>();
  for (const e of ended) {
    const list = byVersion.get(e.version) ?? [];
    list.push({ step: '', metric: 'exited', reason, n: e.n });
    if (e.waiting) list.push({ step: e.step, metric: 'waiting', n: -e.n });
    byVersion.set(e.version, list);
  }
  for (const [version, deltas] of [...byVersion].sort(([a], [b]) => a - b)) await addCounts(tx, automationId, version, deltas);
  return ended.reduce((n, e) => n + e.n, 0);
}
