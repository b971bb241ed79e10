/**
 * The audience step: applies an audience's pending member changes in seq order, one step per
 * transaction (store/audiences.ts stamps each change, and each chunk of an upload, in the
 * transaction that applies it), so a redelivered or duplicated job changes nothing twice. A long
 * upload is worked in slices, as bulk imports are: after `sliceMs` the job enqueues its own
 * continuation and acks, so no claim outlives its lease.
 */
import type { Sql } from 'postgres';
import type { Job, WorkQueue } from '../queue/queue.js';
import { applyNextChange } from '../store/audiences.js';
import { topics, type AudiencePayload } from './topics.js';
import { systemClock, type Clock } from '../domain/clock.js';

/** Well inside the 45 s lease: a step applies at most 10,000 ids. */
export const audienceSliceMs = 15_000;

export function applyAudiencesHandler(deps: { sql: Sql; queue: WorkQueue; sliceMs?: number; clock?: Clock }) {
  const clock = deps.clock ?? systemClock;
  const sliceMs = deps.sliceMs ?? audienceSliceMs;
  return async (jobs: Job[]): Promise<void> => {
    for (const job of jobs) {
      const payload = job.payload as AudiencePayload;
      // Elapsed time (monotonic, not the clock): the slice bounds how long this process works before it lets go.
      const started = performance.now();
      while ((await applyNextChange(deps.sql, payload.project_id, payload.audience_id, { now: new Date(clock.now()) })) === 'applied') {
        if (performance.now() - started > sliceMs) {
          await deps.queue.enqueue(deps.sql, [{ topic: topics.applyAudiences, payload }]);
          break;
        }
      }
      await deps.queue.ack([job]);
    }
  };
}
