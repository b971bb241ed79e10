/**
 * A claimer in a process of its own, for queue.test.ts to kill -9 while it holds a job: it claims
 * one job of HERALD_TOPIC with a long lease, prints it as one JSON line, and keeps the lease alive
 * (its +WPI signals) until it is killed.
 */
import { connect } from '../../../src/store/database.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createJetStreamQueue } from '../../../src/queue/jetstream/queue.js';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

const sql = connect(env('HERALD_DATABASE_URL'), 2);
const queue = await createJetStreamQueue({
  sql,
  log: silentLogger(),
  maxAttempts: 5,
  natsUrl: env('NATS_URL'),
  streamPrefix: env('HERALD_STREAM_PREFIX'),
  ackWaitMs: Number(env('HERALD_ACK_WAIT_MS')),
  relay: false,
});
const [job] = await queue.claim(env('HERALD_TOPIC'), { max: 1, leaseMs: 600_000, waitMs: 10_000 });
process.stdout.write(JSON.stringify(job ?? null) + '\n');
setInterval(() => {}, 1_000); // hold on until killed
