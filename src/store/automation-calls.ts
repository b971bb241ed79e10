/**
 * Webhook steps' calls (migration 0032): one row per (journey, step, attempt), written in the
 * step's transaction (scheduler/automation-steps.ts), taken by the worker role under a lease
 * (worker/automation-webhooks.ts) and POSTed outside any transaction, then finished in the
 * transaction that moves the journey on: a call delivered or given up on moves its journey once,
 * fenced by the try number (a lapsed lease taken by another worker records nothing twice) and by
 * the journey's attempt (a journey that exited or moved meanwhile is left alone).
 */
import type { Sql, TransactionSql } from 'postgres';
import { addCounts, moveJourney, type CountDelta, type Journey } from './automation-journeys.js';

type Db = Sql | TransactionSql;

export async function endpointUrl(sql: Db, projectId: string, endpointId: string): Promise<string | undefined> {
  const [row] = await sql<{ url: string }[]>`select url from webhook_endpoints where project_id = ${projectId} and id = ${endpointId}`;
  return row?.url;
}

/** The endpoints among `ids` the project has (the API checks a definition's webhook steps name its own). */
export async function existingEndpoints(sql: Db, projectId: string, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await sql<{ id: string }[]>`select id from webhook_endpoints where project_id = ${projectId} and id = any(${ids}::uuid[])`;
  return new Set(rows.map((r) => r.id));
}

export async function insertCall(tx: TransactionSql, c: {
  id: string; projectId: string; journeyId: string; step: string; attempt: number; endpointId: string; url: string; body: string; maxTries: number;
  next: string | null; exitOnFailure: boolean; now: Date;
}): Promise<void> {
  await tx`insert into automation_calls (id, project_id, journey_id, step, attempt, endpoint_id, url, body, max_tries, next_step, exit_on_failure, due_at, created_at)
           values (${c.id}, ${c.projectId}, ${c.journeyId}, ${c.step}, ${c.attempt}, ${c.endpointId}, ${c.url}, ${c.body}, ${c.maxTries},
                   ${c.next}, ${c.exitOnFailure}, ${c.now}, ${c.now})
           on conflict (journey_id, step, attempt) do nothing`;
}

/** A journey waiting on its call goes back to waiting (due at its deadline, or never), at the same attempt. */
export async function setWaitingDue(tx: TransactionSql, journeyId: string, seq: number, dueAt: Date | null): Promise<void> {
  await tx`update automation_journeys set due_at = ${dueAt} where id = ${journeyId} and seq = ${seq} and state = 'active'`;
}

export interface ClaimedCall {
  id: string;
  project_id: string;
  journey_id: string;
  step: string;
  attempt: number;
  endpoint_id: string;
  url: string;
  body: string;
  /** This try's number (1 for the first). */
  tries: number;
  max_tries: number;
  next_step: string | null;
  exit_on_failure: boolean;
  /** The endpoint's sealed secrets (null: the endpoint was deleted). */
  sealed: Buffer | null;
  previous_sealed: Buffer | null;
  previous_expires_at: Date | null;
  /** The journey still waits on this call. */
  journey_waits: boolean;
}

/**
 * Takes up to `limit` due calls, oldest due first, each under a lease until `leaseUntil` (a worker
 * killed mid-try leaves a lease that lapses, and the call is tried again with the same id).
 * Committed by the caller before any request goes out.
 */
export async function claimDueCalls(tx: TransactionSql, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedCall[]> {
  return tx<ClaimedCall[]>`
    with due as (
      select id from automation_calls where outcome is null and due_at <= ${now} order by due_at limit ${limit} for update skip locked
    ), claimed as (
      update automation_calls c set tries = c.tries + 1, due_at = ${leaseUntil} from due where c.id = due.id
      returning c.id, c.project_id, c.journey_id, c.step, c.attempt, c.endpoint_id, c.url, c.body, c.tries, c.max_tries, c.next_step, c.exit_on_failure
    )
    select k.*, e.sealed, e.previous_sealed, e.previous_expires_at,
           exists (select 1 from automation_journeys j where j.id = k.journey_id and j.state = 'active' and j.step = k.step
                                                       and j.waiting and j.seq = k.attempt + 1) as journey_waits
      from claimed k left join webhook_endpoints e on e.project_id = k.project_id and e.id = k.endpoint_id
     order by k.id`;
}

/** A failed try to be tried again at `dueAt`. False when the try was not the call's latest (a lapsed lease). */
export async function retryCall(tx: TransactionSql, c: ClaimedCall, dueAt: Date, status: number | undefined, error: string): Promise<boolean> {
  const r = await tx`update automation_calls set due_at = ${dueAt}, last_status = ${status ?? null}, last_error = ${error}
                      where id = ${c.id} and tries = ${c.tries} and outcome is null`;
  return r.count === 1;
}

export type CallEnd =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'failed'; reason: string; status?: number | undefined; error: string }
  | { outcome: 'cancelled' };

/**
 * Ends a call and moves its journey on, with the step's counts: delivered (sent), or given up on
 * (failed by reason), the journey then going to the step's next or exiting (webhook_failed, when
 * the step says so). A next of null completes it. False when this try was not the call's latest.
 */
export async function finishCall(tx: TransactionSql, c: ClaimedCall, end: CallEnd, now: Date): Promise<boolean> {
  const next = c.next_step;
  const r = await tx`
    update automation_calls set outcome = ${end.outcome}, due_at = null, finished_at = ${now},
           last_status = ${'status' in end ? end.status ?? null : null}, last_error = ${end.outcome === 'failed' ? end.error : null}
     where id = ${c.id} and tries = ${c.tries} and outcome is null`;
  if (r.count !== 1 || end.outcome === 'cancelled') return r.count === 1;
  const [j] = await tx<Journey[]>`
    select id, project_id, automation_id, version, custom_id, entry_key, state, step, due_at, seq, waiting, waits_for, sent, trigger, entered_at, ended_at, exit_reason
      from automation_journeys where id = ${c.journey_id} for update`;
  if (!j || j.state !== 'active' || j.step !== c.step || !j.waiting || j.seq !== c.attempt + 1) return true;
  const counts: CountDelta[] = [{ step: c.step, metric: 'waiting', n: -1 }];
  if (end.outcome === 'delivered') counts.push({ step: c.step, metric: 'sent' }, { step: c.step, metric: 'path', reason: 'delivered' });
  else counts.push({ step: c.step, metric: 'failed', reason: end.reason }, { step: c.step, metric: 'path', reason: 'failed' });
  if (end.outcome === 'failed' && c.exit_on_failure) {
    await moveJourney(tx, j, { step: j.step, dueAt: null, waiting: false, waitsFor: null, sent: j.sent, ended: { state: 'exited', reason: 'webhook_failed', at: now } });
    counts.push({ step: '', metric: 'exited', reason: 'webhook_failed' });
  } else {
    await moveJourney(tx, j, {
      step: next ?? j.step, dueAt: now, waiting: false, waitsFor: null, sent: j.sent,
      ended: next === null ? { state: 'completed', reason: null, at: now } : undefined,
    });
    if (next === null) counts.push({ step: '', metric: 'completed' });
  }
  await addCounts(tx, j.automation_id, j.version, counts);
  return true;
}
