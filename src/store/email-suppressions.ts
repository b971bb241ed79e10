/**
 * The email suppression list: addresses a project must not send to (migration 0007). Set-based:
 * adding and checking many addresses is one statement each, as the send path and the delivery
 * worker do per batch. Every query is scoped to its project.
 */
import type { Sql, TransactionSql } from 'postgres';
import { normalizeEmailAddress } from '../domain/email-address.js';
import { isStorableText } from '../domain/storable.js';
import { webhookOutbox } from './webhook-outbox.js';
import { statsRollup } from './stats-rollup.js';

export const suppressionReasons = ['hard_bounce', 'unsubscribed', 'complaint', 'manual'] as const;
export type SuppressionReason = (typeof suppressionReasons)[number];

export interface NewSuppression {
  address: string;
  reason: SuppressionReason;
  /** Why, for an operator: the SMTP reply of a bounce, for example. */
  detail?: string | null | undefined;
}

export interface Suppression {
  address: string;
  reason: SuppressionReason;
  detail: string | null;
  created_at: string;
}

type Db = Sql | TransactionSql;

/**
 * Adds addresses to a project's list in one statement. An address already listed keeps its first
 * reason (the one that stopped mail to it). Answers how many were new. Nothing is added for a
 * project that no longer exists (its unsubscribe links may outlive it).
 */
export async function addSuppressions(
  sql: Db, projectId: string, entries: readonly NewSuppression[], now?: Date, opts: { deliveryId?: string | undefined } = {},
): Promise<number> {
  if (entries.length === 0) return 0;
  // A new entry is a webhook event of its reason (email.bounced, email.complained,
  // email.unsubscribed), written by the same statement (store/webhook-outbox.ts); `manual` is none.
  const [row] = await sql<{ n: number }[]>`
    with added as (
      insert into email_suppressions (project_id, address, reason, detail)
      select p.id, e.address, e.reason, e.detail
      from projects p,
           unnest(${entries.map((e) => normalizeEmailAddress(e.address))}::text[], ${entries.map((e) => e.reason)}::text[],
                  ${entries.map((e) => e.detail ?? null) as string[]}::text[]) as e(address, reason, detail)
      where p.id = ${projectId}
      on conflict (project_id, address) do nothing
      returning project_id, address, reason, detail
    ), webhook_facts as (
      select a.project_id, t.type, jsonb_build_object('address', a.address, 'reason', a.reason, 'detail', a.detail) as data
      from added a join unnest(${Object.keys(suppressionEvents)}::text[], ${Object.values(suppressionEvents)}::text[]) as t(reason, type)
        on t.reason = a.reason
    ), ${webhookOutbox(sql, now)}, stats_facts as (
      -- A new unsubscribe or complaint counts for the delivery it came from, when that delivery was
      -- to this address (store/stats-rollup.ts): an address already listed counts no more.
      select d.project_id, d.message_id, d.platform, case a.reason when 'unsubscribed' then 'unsubscribes' else 'complaints' end as metric, null::text as reason
        from added a join deliveries d on d.id = ${opts.deliveryId ?? null}::uuid and d.project_id = a.project_id and lower(d.target) = a.address
       where a.reason in ('unsubscribed', 'complaint')
    ), ${statsRollup(sql, now)}
    select count(*)::int as n from added`;
  return row!.n;
}

/** The webhook event a new suppression is, by its reason. */
const suppressionEvents: Partial<Record<SuppressionReason, string>> = {
  hard_bounce: 'email.bounced',
  complaint: 'email.complained',
  unsubscribed: 'email.unsubscribed',
};

/** Which of `addresses` the project has suppressed, lower-cased, in one statement. */
export async function findSuppressed(sql: Db, projectId: string, addresses: readonly string[]): Promise<Set<string>> {
  if (addresses.length === 0) return new Set();
  const rows = await sql<{ address: string }[]>`
    select address from email_suppressions
    where project_id = ${projectId} and address = any(${addresses.map(normalizeEmailAddress)}::text[])`;
  return new Set(rows.map((r) => r.address));
}

export interface SuppressionPage {
  suppressions: Suppression[];
  /** Pass it back as `cursor` for the next page; null on the last one. */
  next_cursor: string | null;
}

/**
 * A page's cursor is the last address seen, base64url encoded so that it goes into a query string
 * as it is (an address may hold '+', '&', '%').
 */
const cursorOf = (address: string): string => Buffer.from(address, 'utf8').toString('base64url');

/**
 * The address a cursor names, or undefined for one this API never gave: any text decodes to some
 * bytes, which must be UTF-8 that encodes back to the same cursor and that PostgreSQL can store
 * (a cursor decoding to U+0000 would fail the query).
 */
export function cursorAddress(cursor: string): string | undefined {
  const address = Buffer.from(cursor, 'base64url').toString('utf8');
  return cursorOf(address) === cursor && isStorableText(address) ? address : undefined;
}

/** One page of a project's list in address order, after the address `after` (see cursorAddress). */
export async function listSuppressions(sql: Db, projectId: string, page: { limit: number; after?: string | undefined }): Promise<SuppressionPage> {
  const { after } = page;
  const rows = await sql<{ address: string; reason: SuppressionReason; detail: string | null; created_at: Date }[]>`
    select address, reason, detail, created_at from email_suppressions
    where project_id = ${projectId} ${after !== undefined ? sql`and address > ${after}` : sql``}
    order by address limit ${page.limit + 1}`;
  const more = rows.length > page.limit;
  const shown = rows.slice(0, page.limit);
  return {
    suppressions: shown.map((r) => ({ address: r.address, reason: r.reason, detail: r.detail, created_at: r.created_at.toISOString() })),
    next_cursor: more ? cursorOf(shown[shown.length - 1]!.address) : null,
  };
}

/** Takes an address off the list; false when it was not on it. */
export async function removeSuppression(sql: Db, projectId: string, address: string): Promise<boolean> {
  const rows = await sql`delete from email_suppressions where project_id = ${projectId} and address = ${normalizeEmailAddress(address)} returning 1`;
  return rows.length > 0;
}
