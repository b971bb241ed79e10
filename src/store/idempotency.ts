/**
 * Idempotency keys with Stripe's contract: the same key and body replay the first answer (after a
 * restart too); the same key with another body is refused; concurrent duplicates make one effect.
 *
 * `claimIdempotencyKeys` runs inside the transaction that performs the effect, so the key and the
 * effect commit together or not at all.
 */
import { createHash } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';

/** Keys live at least this long (Stripe keeps them 24 h; a retrying client may take a while). */
export const idempotencyRetentionHours = 48;

export function requestHash(method: string, url: string, body: unknown): Buffer {
  return createHash('sha256').update(method).update('\0').update(url).update('\0').update(JSON.stringify(body)).digest();
}

export interface IdempotencyClaim {
  projectId: string;
  key: string;
  hash: Buffer;
  /** The answer to store if this claim takes the key. */
  response: { status: number; body: unknown };
}

/** What a key held before this claim, or that the claim took it. */
export type ClaimResult =
  | { kind: 'new' }
  | { kind: 'existing'; hash: Buffer; status: number; body: unknown };

/**
 * Claims many keys in one statement (each (project, key) at most once per call). The insert takes
 * each key's unique-index slot, so a concurrent transaction claiming the same key blocks until this
 * one ends, then finds the committed row and replays it; if this one rolls back, the other proceeds.
 */
export async function claimIdempotencyKeys(tx: TransactionSql, claims: IdempotencyClaim[]): Promise<ClaimResult[]> {
  if (!claims.length) return [];
  const inserted = await tx<{ project_id: string; key: string }[]>`
    insert into idempotency_keys (project_id, key, request_hash, response_status, response_body)
    select * from unnest(${claims.map((c) => c.projectId)}::uuid[], ${claims.map((c) => c.key)}::text[],
                         ${claims.map((c) => '\\x' + c.hash.toString('hex'))}::text[]::bytea[], ${claims.map((c) => c.response.status)}::int[],
                         ${claims.map((c) => JSON.stringify(c.response.body))}::text[]::jsonb[])
    on conflict (project_id, key) do nothing
    returning project_id, key`;
  const id = (projectId: string, key: string) => projectId + '\0' + key;
  const taken = new Set(inserted.map((r) => id(r.project_id, r.key)));
  const others = claims.filter((c) => !taken.has(id(c.projectId, c.key)));
  const existing = new Map<string, ClaimResult>();
  if (others.length) {
    const rows = await tx<{ project_id: string; key: string; request_hash: Buffer; response_status: number; response_body: unknown }[]>`
      select i.project_id, i.key, i.request_hash, i.response_status, i.response_body
      from idempotency_keys i
      join unnest(${others.map((c) => c.projectId)}::uuid[], ${others.map((c) => c.key)}::text[]) as u(project_id, key)
        on i.project_id = u.project_id and i.key = u.key`;
    for (const r of rows) {
      existing.set(id(r.project_id, r.key), { kind: 'existing', hash: r.request_hash, status: r.response_status, body: r.response_body });
    }
  }
  return claims.map((c) => {
    if (taken.has(id(c.projectId, c.key))) return { kind: 'new' };
    const e = existing.get(id(c.projectId, c.key));
    if (!e) throw new Error('idempotency key vanished between insert and select'); // a bug, not input
    return e;
  });
}

/** `now`: the scheduler's clock. */
export async function deleteExpiredIdempotencyKeys(sql: TransactionSql | Sql, now: Date): Promise<number> {
  const r = await sql`delete from idempotency_keys
    where created_at < ${now}::timestamptz - make_interval(hours => ${idempotencyRetentionHours})`;
  return r.count;
}
