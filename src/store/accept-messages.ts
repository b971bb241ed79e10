/**
 * Accepting transactional messages: in one transaction, claim their idempotency keys, store the
 * messages and enqueue their fan-out. Batched (see group-commit.ts): a key named twice in one batch
 * is claimed once, and the later requests are answered like a retry that came after the first.
 */
import type { TransactionSql } from 'postgres';
import type { NewJob, WorkQueue } from '../queue/queue.js';
import { claimIdempotencyKeys, type ClaimResult } from './idempotency.js';
import { insertMessages, type NewMessage } from './messages.js';

export interface AcceptRequest {
  message: NewMessage;
  idempotency?: { key: string; hash: Buffer } | undefined;
}

export type AcceptResult =
  | { kind: 'accepted'; status: 202; body: { message_id: string } }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'mismatch' };

export async function acceptMessages(
  tx: TransactionSql,
  queue: WorkQueue,
  fanoutJob: (messageId: string) => NewJob,
  requests: AcceptRequest[],
): Promise<AcceptResult[]> {
  const answer = (r: AcceptRequest) => ({ status: 202 as const, body: { message_id: r.message.id } });
  const keyOf = (r: AcceptRequest) => r.message.projectId + '\0' + r.idempotency!.key;

  // The first request naming a key claims it for the batch.
  const claimers = new Map<string, AcceptRequest>();
  for (const r of requests) if (r.idempotency && !claimers.has(keyOf(r))) claimers.set(keyOf(r), r);
  const leaders = [...claimers.values()];
  const claims = await claimIdempotencyKeys(tx, leaders.map((r) => ({
    projectId: r.message.projectId, key: r.idempotency!.key, hash: r.idempotency!.hash, response: answer(r),
  })));
  const held = new Map<string, { leader: AcceptRequest; claim: ClaimResult }>();
  leaders.forEach((r, i) => held.set(keyOf(r), { leader: r, claim: claims[i]! }));

  const results = requests.map((r): AcceptResult => {
    if (!r.idempotency) return { kind: 'accepted', ...answer(r) };
    const { leader, claim } = held.get(keyOf(r))!;
    if (claim.kind === 'new' && leader === r) return { kind: 'accepted', ...answer(r) };
    const stored = claim.kind === 'new' ? { hash: leader.idempotency!.hash, ...answer(leader) } : claim;
    return stored.hash.equals(r.idempotency.hash) ? { kind: 'replay', status: stored.status, body: stored.body } : { kind: 'mismatch' };
  });

  const accepted = requests.filter((_, i) => results[i]!.kind === 'accepted');
  // Sent together: postgres.js pipelines both statements on the transaction's connection.
  await Promise.all([
    insertMessages(tx, accepted.map((r) => r.message)),
    queue.enqueue(tx, accepted.map((r) => fanoutJob(r.message.id))),
  ]);
  return results;
}
