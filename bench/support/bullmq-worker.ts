/**
 * The BullMQ pipeline's worker process (bullmq-pipeline.ts): a fan-out Worker and a delivery Worker,
 * as Herald's worker role runs a fan-out and a delivery consumer.
 *
 *   node dist/bench/support/bullmq-worker.js --database-url URL --redis-url URL --prefix P
 *        --sandbox-url URL [--concurrency 500]
 * Prints `ready` once both Workers are connected.
 */
import { parseArgs } from 'node:util';
import { Queue, Worker, UnrecoverableError, type Job } from 'bullmq';
import { connect } from '../../src/store/database.js';
import { uuidv7 } from '../../src/domain/ids.js';
import { buildApnsPush } from '../../src/domain/apns-payload.js';
import { assertNever } from '../../src/domain/outcome.js';
import { createApnsSender, type ApnsCredentials } from '../../src/providers/apns/client.js';
import { silentLogger } from '../../src/observability/logger.js';
import { linkSandbox } from '../../src/sandbox-link.js';
import {
  deliveryAttempts, deliveryQueueName, fanoutQueueName, redisConnection, type DeliveryJobData, type FanoutJobData,
} from './bullmq-pipeline.js';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' }, 'redis-url': { type: 'string' }, prefix: { type: 'string' },
    'sandbox-url': { type: 'string' }, concurrency: { type: 'string', default: '500' },
  },
});
const connection = redisConnection(values['redis-url']!);
const prefix = values.prefix!;
const sql = connect(values['database-url']!, 20);
const link = await linkSandbox(values['sandbox-url']!);
const sender = createApnsSender({ log: silentLogger(), ca: link.caPem });
const creds: ApnsCredentials = {
  teamId: link.credentials.apns.team_id, keyId: link.credentials.apns.key_id,
  privateKeyPem: link.credentials.apns.private_key_pem, topic: link.credentials.apns.topic,
  endpoint: { production: link.endpoints.apns, sandbox: link.endpoints.apns },
};
const deliveries = new Queue<DeliveryJobData>(deliveryQueueName, { connection, prefix });

const fanoutWorker = new Worker<FanoutJobData>(fanoutQueueName, async (job: Job<FanoutJobData>) => {
  const { message_id, project_id, created_at, push, tokens } = job.data;
  const parts = buildApnsPush(push, message_id, created_at);
  const ids = tokens.map(() => uuidv7());
  await sql.begin(async (tx) => {
    await tx`
      insert into deliveries (id, message_id, project_id, platform, target, target_kind)
      select u.id, ${message_id}, ${project_id}, u.platform, u.token, 'token'
      from unnest(${ids}::uuid[], ${tokens.map((t) => t.platform)}::text[], ${tokens.map((t) => t.token)}::text[]) as u(id, platform, token)
      on conflict (message_id, platform, target) do nothing`;
    await tx`update messages set fanned_out_at = now() where id = ${message_id}`;
  });
  await deliveries.addBulk(tokens.map((t, i) => ({
    name: 'apns',
    data: { delivery_id: ids[i]!, token: t.token, payload: parts.payload, collapse_id: parts.collapseId, priority: parts.priority, expiration: parts.expiration },
    opts: { jobId: ids[i]!, attempts: deliveryAttempts, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: true, removeOnFail: 1000 },
  })));
}, { connection, prefix, concurrency: 2 }); // Herald's fan-out runs 2 lanes (worker/workers.ts)

const record = (id: string, status: string, reason: string | null, attempts: number) => sql`
  update deliveries set status = ${status}, reason = ${reason}, attempts = ${attempts}, updated_at = now()
  where id = ${id} and status = 'queued'`;

const deliveryWorker = new Worker<DeliveryJobData>(deliveryQueueName, async (job: Job<DeliveryJobData>) => {
  const d = job.data;
  const attempt = job.attemptsMade + 1;
  const o = await sender.send(creds, {
    token: d.token, environment: 'production', apnsId: d.delivery_id, collapseId: d.collapse_id,
    priority: d.priority, pushType: 'alert', expiration: d.expiration, payload: d.payload,
  });
  switch (o.kind) {
    case 'delivered':
      await record(d.delivery_id, 'sent', null, attempt);
      return;
    case 'token_invalid':
      await record(d.delivery_id, 'invalidated', o.reason, attempt);
      return;
    case 'rejected':
    case 'credentials_invalid':
      await record(d.delivery_id, 'failed', o.reason, attempt);
      throw new UnrecoverableError(o.reason);
    case 'retry':
    case 'provider_down':
      if (attempt >= deliveryAttempts) await record(d.delivery_id, 'failed', `gave up after ${attempt} attempts: ${o.reason}`, attempt);
      throw new Error(o.reason); // BullMQ retries with its backoff until the attempts are spent
    default:
      return assertNever(o);
  }
}, { connection, prefix, concurrency: Number(values.concurrency) });

let failures = 0;
for (const w of [fanoutWorker, deliveryWorker] as Worker[]) {
  w.on('failed', (job, err) => { if (++failures <= 5) process.stderr.write(`bullmq job ${job?.name} failed: ${err.message}\n`); });
  w.on('error', (err) => process.stderr.write(`bullmq worker error: ${err.message}\n`));
}
await Promise.all([fanoutWorker.waitUntilReady(), deliveryWorker.waitUntilReady(), deliveries.waitUntilReady()]);
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  void (async () => {
    await Promise.all([fanoutWorker.close(), deliveryWorker.close()]);
    await deliveries.close();
    await sender.close();
    await sql.end({ timeout: 5 });
    if (failures) process.stderr.write(`bullmq: ${failures} failed job attempts\n`);
    process.exit(0);
  })();
});
