/** The worker role: the fan-out and APNs delivery consumers, and the APNs connection pools. */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import { createApnsSender, type ApnsCredentials } from '../providers/apns/client.js';
import type { SandboxLink } from '../sandbox-link.js';
import { startConsumer } from './consume.js';
import { fanoutHandler } from './fanout.js';
import { apnsDeliveryHandler } from './deliver-apns.js';
import { topics } from './topics.js';
import type { HeraldEvents } from './events.js';
import type { BackoffPolicy } from '../domain/retry.js';

export interface WorkerDeps {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  events: HeraldEvents;
  sandbox: SandboxLink | undefined;
  /** Provider requests kept in flight by this process. */
  concurrency: number;
  backoff?: BackoffPolicy | undefined;
}

/** Lanes per topic: enough that one lane's database round trips overlap another's sends. */
const deliveryLanes = 4;
/**
 * How long a claim holds before a crashed worker's jobs come back. It must outlast the slowest
 * batch: a push gets at most three requests (one at once after a lost connection, one after a token
 * refresh), each given up after the sender's 10 s timeout, so 45 s leaves room and still brings a
 * killed worker's jobs back within a minute.
 */
const leaseMs = 45_000;

export function startWorkers(deps: WorkerDeps): { stop(): Promise<void> } {
  const sender = createApnsSender({ log: deps.log.child({ part: 'apns' }), ca: deps.sandbox?.caPem });
  const sandboxCreds: ApnsCredentials | undefined = deps.sandbox && {
    teamId: deps.sandbox.credentials.apns.team_id,
    keyId: deps.sandbox.credentials.apns.key_id,
    privateKeyPem: deps.sandbox.credentials.apns.private_key_pem,
    topic: deps.sandbox.credentials.apns.topic,
    endpoint: { production: deps.sandbox.endpoints.apns, sandbox: deps.sandbox.endpoints.apns },
  };
  const consumers = [
    startConsumer({
      queue: deps.queue, topic: topics.fanout, log: deps.log, lanes: 2, batchSize: 8, leaseMs,
      handle: fanoutHandler({ sql: deps.sql, queue: deps.queue }),
    }),
    startConsumer({
      queue: deps.queue, topic: topics.apns, log: deps.log, lanes: deliveryLanes,
      batchSize: Math.max(1, Math.ceil(deps.concurrency / deliveryLanes)), leaseMs,
      handle: apnsDeliveryHandler({
        sql: deps.sql, queue: deps.queue, log: deps.log, events: deps.events,
        // Per-project credentials arrive with the provider-settings API; until then a project
        // delivers to the sandbox when one is linked, and fails with apns_not_configured otherwise.
        credentialsFor: async () => sandboxCreds,
        send: (creds, req) => sender.send(creds, req),
        backoff: deps.backoff,
      }),
    }),
  ];
  return {
    stop: async () => {
      await Promise.all(consumers.map((c) => c.stop()));
      await sender.close();
    },
  };
}
