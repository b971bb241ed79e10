/**
 * The bulk-import step: applies an import's pending chunks in order, each once (store/import-jobs.ts
 * stamps a chunk in the transaction that applies it). A long import is worked in slices: after
 * `sliceMs` the job enqueues its own continuation and acks, so no claim outlives its lease and the
 * attempt count (which dead-letters) only grows on real failures.
 */
import type { Sql } from 'postgres';
import type { Job, WorkQueue } from '../queue/queue.js';
import { applyChunk, pendingChunks } from '../store/import-jobs.js';
import { topics, type ImportPayload } from './topics.js';
import { systemClock, type Clock } from '../domain/clock.js';

/** Well inside the 45 s lease: a chunk of 1,000 operations takes a fraction of a second. */
export const importSliceMs = 15_000;

export function importHandler(deps: { sql: Sql; queue: WorkQueue; sliceMs?: number; clock?: Clock }) {
  const clock = deps.clock ?? systemClock;
  const sliceMs = deps.sliceMs ?? importSliceMs;
  return async (jobs: Job[]): Promise<void> => {
    for (const job of jobs) {
      const { import_id } = job.payload as ImportPayload;
      // Elapsed time (monotonic, not the clock): the slice bounds how long this process works before it lets go.
      const started = performance.now();
      const pending = await pendingChunks(deps.sql, import_id);
      for (const [i, chunkNo] of pending.entries()) {
        await applyChunk(deps.sql, import_id, chunkNo, { now: () => new Date(clock.now()) });
        if (performance.now() - started > sliceMs && i < pending.length - 1) {
          await deps.queue.enqueue(deps.sql, [{ topic: topics.importProfiles, payload: { import_id } satisfies ImportPayload }]);
          break;
        }
      }
      await deps.queue.ack([job]);
    }
  };
}
