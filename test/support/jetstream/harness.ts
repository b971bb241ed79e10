/** What the JetStream backend's tests share: a database and a stream prefix per test, and waiting. */
import { randomBytes } from 'node:crypto';
import type { Sql } from 'postgres';
import type { Job } from '../../../src/queue/queue.js';
import { createJetStreamQueue, type JetStreamQueueOptions } from '../../../src/queue/jetstream/queue.js';
import { deleteStreams, sharedNatsUrl } from './nats.js';
import { testDatabase } from '../database.js';
import { silentLogger } from '../../../src/observability/logger.js';

export const ci = Boolean(process.env.CI);
export const topic = 'jetstream.topic';
export const claimNow = { max: 100, leaseMs: 30_000, waitMs: 0 };
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { eventually } from '../eventually.js';

export const outboxRows = async (sql: Sql) => (await sql<{ n: number }[]>`select count(*)::int as n from job_outbox`)[0]!.n;
export const payloads = (jobs: Job[]) => jobs.map((j) => j.payload);

export type Harness = Awaited<ReturnType<typeof harness>>;

/** A fresh database, a stream prefix of its own, and queues on them; close() removes all three. */
export async function harness(natsUrl = sharedNatsUrl) {
  const db = await testDatabase();
  const prefix = 'herald_test_' + randomBytes(4).toString('hex');
  const queues: { close(): Promise<void> }[] = [];
  const make = async (extra: Partial<JetStreamQueueOptions> = {}) => {
    const q = await createJetStreamQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 5, natsUrl, streamPrefix: prefix, ...extra });
    queues.push(q);
    return q;
  };
  const close = async () => {
    await Promise.all(queues.map((q) => q.close()));
    await deleteStreams(natsUrl, prefix).catch(() => undefined);
    await db.close();
  };
  return { db, sql: db.sql, prefix, natsUrl, make, close };
}
