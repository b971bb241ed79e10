/**
 * The fan-out step: a committed message becomes one delivery job per recipient token, in the same
 * transaction that creates the delivery rows (so a crash leaves either both or neither).
 */
import type { Sql } from 'postgres';
import type { Job, WorkQueue } from '../queue/queue.js';
import { fanOutMessage } from '../store/deliveries.js';
import { deliveryTopic, type FanoutPayload, type DeliveryPayload } from './topics.js';

export function fanoutHandler(deps: { sql: Sql; queue: WorkQueue }) {
  return async (jobs: Job[]): Promise<void> => {
    for (const job of jobs) {
      const { message_id } = job.payload as FanoutPayload;
      await deps.sql.begin(async (tx) => {
        const result = await fanOutMessage(tx, message_id);
        if (result?.queued.length) {
          await deps.queue.enqueue(
            tx,
            result.queued.map((q) => ({ topic: deliveryTopic(q.platform), payload: { delivery_id: q.id } satisfies DeliveryPayload })),
          );
        }
      });
      await deps.queue.ack([job]);
    }
  };
}
