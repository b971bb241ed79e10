/**
 * A consumer loop over the work queue: `lanes` independent loops each claim a batch, hand it to the
 * handler, and go again. Several lanes keep the provider busy while another lane waits on the
 * database. The handler acks, retries or dead-letters each job itself; a job it throws on is retried
 * (a bug or an outage of our own store, never a provider error, which handlers return as data).
 */
import type { Logger } from 'pino';
import type { Job, WorkQueue } from '../queue/queue.js';
import { retryDelayMs } from '../domain/retry.js';

export interface ConsumerOptions {
  queue: WorkQueue;
  topic: string;
  log: Logger;
  lanes: number;
  batchSize: number;
  /** Longer than the slowest batch could take, so a live worker never loses its claim. */
  leaseMs: number;
  handle(jobs: Job[]): Promise<void>;
}

export interface Consumer {
  /** Stops claiming, waits for the batches in hand to finish. */
  stop(): Promise<void>;
}

/** An idle lane is woken by new work; this is only the safety net for a wake-up lost in a reconnect. */
const idleWaitMs = 30_000;
/** Pause after our own store failed, so a database outage does not spin the loop. */
const storeErrorPauseMs = 1_000;

export function startConsumer(o: ConsumerOptions): Consumer {
  const abort = new AbortController();
  const lane = async (n: number): Promise<void> => {
    while (!abort.signal.aborted) {
      let jobs: Job[] = [];
      try {
        jobs = await o.queue.claim(o.topic, { max: o.batchSize, leaseMs: o.leaseMs, waitMs: idleWaitMs, signal: abort.signal });
        if (jobs.length) await o.handle(jobs);
      } catch (err) {
        if (abort.signal.aborted) break;
        o.log.error({ err, topic: o.topic, lane: n, jobs: jobs.length }, 'consumer batch failed; its jobs will be retried');
        await Promise.allSettled(jobs.map((j) => o.queue.retry(j, retryDelayMs(j.attempt, undefined), String(err))));
        await new Promise((r) => setTimeout(r, storeErrorPauseMs));
      }
    }
  };
  const running = Array.from({ length: o.lanes }, (_, i) => lane(i));
  return {
    stop: async () => {
      abort.abort();
      await Promise.allSettled(running);
    },
  };
}
