/**
 * The fan-out step: committed messages become one delivery job per recipient target, in the same
 * transaction that creates the delivery rows (so a crash leaves either both or neither). A batch
 * of claimed jobs is fanned out set-based in one transaction (store/deliveries.ts#fanOutMessages);
 * a batch is bounded by the consumer's batch size and the send API's recipients per message.
 *
 * Per-item outcomes: when a batch fails for its data rather than because the database is down,
 * each of its messages is fanned out again alone, so one message that cannot be fanned out never
 * holds back another project's. The failed batch was rolled back whole, so nothing runs twice.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import { fanOutMessages } from '../store/deliveries.js';
import { recordCampaignOutcomes } from '../store/campaign-outcomes.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { isDatabaseFailure } from '../store/database-errors.js';
import { retryDelayMs } from '../domain/retry.js';
import { deliveryTopic, topics, type FanoutPayload, type DeliveryPayload } from './topics.js';

export function fanoutHandler(deps: { sql: Sql; queue: WorkQueue; log?: Logger; clock?: Clock | undefined }) {
  const clock = deps.clock ?? systemClock;
  // One transaction holds either first fan-outs or releases, never both: each takes its profiles'
  // capping locks in one sorted statement (store/capping.ts), which a second set in the same
  // transaction would break.
  const fanOut = (jobs: Job[]) => deps.sql.begin(async (tx) => {
    const release = (jobs[0]?.payload as FanoutPayload | undefined)?.release === true;
    const results = await fanOutMessages(tx, jobs.map((j) => (j.payload as FanoutPayload).message_id), new Date(clock.now()), { release });
    const queued = results.flatMap((r) => r.queued);
    // A campaign recipient every one of whose deliveries was skipped (or who got none) has its
    // outcome now; one whose profile capping deferred has none until its release fans it out.
    const fresh = results.filter((r) => r.fresh || release).map((r) => r.messageId);
    await recordCampaignOutcomes(tx, { messageIds: fresh }, new Date(clock.now()));
    // Profiles a capping rule or quiet hours deferred: a release job due when each may go (store/capping.ts).
    const releases = results.flatMap((r) => r.releases.map((at) => ({
      topic: topics.fanout, payload: { message_id: r.messageId, release: true } satisfies FanoutPayload, runAt: at,
    })));
    if (queued.length || releases.length) {
      await deps.queue.enqueue(tx, [
        ...queued.map((q) => ({ topic: deliveryTopic(q.platform), payload: { delivery_id: q.id } satisfies DeliveryPayload })),
        ...releases,
      ]);
    }
  });

  const fanOutBatch = async (jobs: Job[]): Promise<void> => {
    try {
      await fanOut(jobs);
      await deps.queue.ack(jobs);
      return;
    } catch (err) {
      // The database itself failed: every job is retried by the consumer, as one.
      if (jobs.length === 1 || isDatabaseFailure(err)) throw err;
    }
    for (const job of jobs) {
      try {
        await fanOut([job]);
        await deps.queue.ack([job]);
      } catch (err) {
        if (isDatabaseFailure(err)) throw err;
        deps.log?.error({ err, message_id: (job.payload as FanoutPayload).message_id }, 'fan-out of one message failed; it will be retried');
        await deps.queue.retry(job, retryDelayMs(job.attempt, undefined), String(err));
      }
    }
  };

  return async (jobs: Job[]): Promise<void> => {
    const releases = jobs.filter((j) => (j.payload as FanoutPayload).release === true);
    const first = jobs.filter((j) => (j.payload as FanoutPayload).release !== true);
    if (first.length) await fanOutBatch(first);
    if (releases.length) await fanOutBatch(releases);
  };
}
