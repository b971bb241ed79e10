/**
 * Idempotency keys with Stripe's contract: the same key and body replay the first answer (after a
 * restart too); the same key with another body is refused; concurrent duplicates make one effect.
 *
 * `claimIdempotencyKey` runs inside the transaction that performs the effect. Its insert takes the
 * key's unique-index slot, so a concurrent duplicate blocks until that transaction ends, then sees
 * the committed row and replays it; if the first one rolled back, the duplicate proceeds itself.
 */
import { createHash } from 'node:crypto';
import type { TransactionSql } from 'postgres';

/** Keys live at least this long (Stripe keeps them 24 h; a retrying client may take a while). */
export const idempotencyRetentionHours = 48;

export type IdempotencyClaim =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'mismatch' };

export function requestHash(method: string, url: string, body: unknown): Buffer {
  return createHash('sha256').update(method).update('\0').update(url).update('\0').update(JSON.stringify(body)).digest();
}

export async function claimIdempotencyKey(
  tx: TransactionSql,
  projectId: string,
  key: string,
  hash: Buffer,
  response: { status: number; body: unknown },
): Promise<IdempotencyClaim> {
  const inserted = await tx`
    insert into idempotency_keys (project_id, key, request_hash, response_status, response_body)
    values (${projectId}, ${key}, ${hash}, ${response.status}, ${tx.json(response.body as never)})
    on conflict (project_id, key) do nothing
    returning 1`;
  if (inserted.length) return { kind: 'new' };
  const [row] = await tx<{ request_hash: Buffer; response_status: number; response_body: unknown }[]>`
    select request_hash, response_status, response_body from idempotency_keys
    where project_id = ${projectId} and key = ${key}`;
  if (!row) throw new Error('idempotency key vanished between insert and select'); // a bug, not input
  return row.request_hash.equals(hash)
    ? { kind: 'replay', status: row.response_status, body: row.response_body }
    : { kind: 'mismatch' };
}

export async function deleteExpiredIdempotencyKeys(sql: TransactionSql | import('postgres').Sql): Promise<number> {
  const r = await sql`delete from idempotency_keys
    where created_at < now() - make_interval(hours => ${idempotencyRetentionHours})`;
  return r.count;
}
