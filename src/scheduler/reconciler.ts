/**
 * The reconciler: PostgreSQL is the record of truth, so work it shows unfinished long after it was
 * due, with no job left for it, gets a new job. Only a queue that can lose acknowledged jobs needs
 * this (JetStream on nats-server 2.9: a cluster killed at once forgets what it had not written to
 * disk); on PostgreSQL's queue the jobs share the database's durability and the sweep never runs.
 *
 * A job re-enqueued by mistake (its original was only slow) does no harm: a fan-out is stamped
 * once, and a delivery is claimed in PostgreSQL before each provider call (worker/deliver.ts), so
 * the extra job finds the work done or under way; an audience's changes are stamped as they apply
 * (store/audiences.ts); a capping release consumes its deferrals once (store/capping.ts). The
 * grace period only bounds that waste.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import { takeLostAudienceChanges, takeLostDeliveries, takeLostFanouts } from '../store/reconcile.js';
import { takeLostReleases } from '../store/capping.js';
import { deliveryTopic, topics, type AudiencePayload, type DeliveryPayload, type FanoutPayload } from '../worker/topics.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { every } from './every.js';

export interface ReconcilerOptions {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  /** How long past due unfinished work must be before it is presumed to have lost its job. */
  graceMs: number;
  clock?: Clock | undefined;
}

/** Rows per statement: a sweep after a large loss takes several short transactions, not one long one. */
const batch = 2_000;

/** One sweep; returns how many jobs it re-enqueued. */
export async function reconcileOnce(o: ReconcilerOptions): Promise<{ fanouts: number; deliveries: number; audiences: number; releases: number }> {
  let fanouts = 0;
  let releases = 0;
  let deliveries = 0;
  let audiences = 0;
  const now = () => new Date((o.clock ?? systemClock).now());
  for (;;) {
    const n = await o.sql.begin(async (tx) => {
      const ids = await takeLostFanouts(tx, topics.fanout, o.graceMs, batch, now());
      await o.queue.enqueue(tx, ids.map((id) => ({ topic: topics.fanout, payload: { message_id: id } satisfies FanoutPayload })));
      return ids.length;
    });
    fanouts += n;
    if (n < batch) break;
  }
  for (;;) {
    const n = await o.sql.begin(async (tx) => {
      const rows = await takeLostDeliveries(tx, o.graceMs, batch, now());
      await o.queue.enqueue(tx, rows.map((r) => ({ topic: deliveryTopic(r.platform), payload: { delivery_id: r.id } satisfies DeliveryPayload })));
      return rows.length;
    });
    deliveries += n;
    if (n < batch) break;
  }
  for (;;) {
    const n = await o.sql.begin(async (tx) => {
      const rows = await takeLostAudienceChanges(tx, topics.applyAudiences, o.graceMs, batch, now());
      // One job per audience applies all of its pending changes, in order.
      const lost = new Map(rows.map((r) => [`${r.project_id}/${r.audience_id}`, { project_id: r.project_id, audience_id: r.audience_id } satisfies AudiencePayload]));
      await o.queue.enqueue(tx, [...lost.values()].map((payload) => ({ topic: topics.applyAudiences, payload })));
      audiences += lost.size;
      return rows.length;
    });
    if (n < batch) break;
  }
  for (;;) {
    // Capping deferrals whose release job was lost (store/capping.ts): one release job per message.
    const n = await o.sql.begin(async (tx) => {
      const ids = await takeLostReleases(tx, o.graceMs, batch, now());
      await o.queue.enqueue(tx, ids.map((id) => ({ topic: topics.fanout, payload: { message_id: id, release: true } satisfies FanoutPayload })));
      releases += ids.length;
      return ids.length;
    });
    if (n < batch) break;
  }
  return { fanouts, deliveries, audiences, releases };
}

export function startReconciler(o: ReconcilerOptions): { stop(): Promise<void> } {
  if (!o.queue.mayLoseJobs) return { stop: async () => {} };
  const sweep = () => reconcileOnce(o)
    .then((r) => {
      if (r.fanouts || r.deliveries || r.audiences || r.releases) {
        o.log.warn(r, 'reconciler: work whose job the queue lost was enqueued again');
      }
    })
    .catch((err: unknown) => o.log.warn({ err }, 'reconciler sweep failed; will try again'));
  // A few sweeps per grace period: lost work waits at most about 1.25 × grace.
  return every(o.clock ?? systemClock, Math.max(1_000, Math.min(60_000, o.graceMs / 4)), sweep);
}
