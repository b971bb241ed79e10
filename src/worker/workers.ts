/**
 * The worker role: the fan-out consumer, one delivery consumer per channel with its provider
 * sender (connection pools, rate limits), the bulk profile import, custom audiences' member
 * changes, and the circuit breakers the channels share.
 */
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import { createApnsSender } from '../providers/apns/client.js';
import { createFcmSender } from '../providers/fcm/client.js';
import { createWebPushSender } from '../providers/webpush/client.js';
import { createEmailSender } from '../providers/email/client.js';
import { createSmsSender } from '../providers/sms/client.js';
import type { SandboxLink } from '../sandbox-link.js';
import type { CredentialsCache } from '../store/credentials-cache.js';
import { startConsumer } from './consume.js';
import { fanoutHandler } from './fanout.js';
import { deliveryHandler, type ChannelSender } from './deliver.js';
import { apnsChannel } from './deliver-apns.js';
import { fcmChannel } from './deliver-fcm.js';
import { webPushChannel } from './deliver-webpush.js';
import { emailChannel } from './deliver-email.js';
import { smsChannel } from './deliver-sms.js';
import { channelAccounts } from './channel-accounts.js';
import { topics } from './topics.js';
import { importHandler } from './import-profiles.js';
import { applyAudiencesHandler } from './apply-audiences.js';
import type { HeraldEvents } from './events.js';
import type { BackoffPolicy } from '../domain/retry.js';
import { createCircuitBreakers } from '../domain/circuit-breaker.js';
import type { Share } from '../domain/process-share.js';
import type { PrivateNetworkAllowance } from '../domain/network-address.js';
import { createOutboundGuard } from '../providers/outbound-guard.js';
import type { Clock } from '../domain/clock.js';

export interface WorkerDeps {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  events: HeraldEvents;
  sandbox: SandboxLink | undefined;
  /** The projects' stored provider credentials. */
  credentials: CredentialsCache;
  /** Where tenants' endpoints (push subscriptions, SMTP hosts, token_uri, base_url) may be private addresses. */
  privateNetworks: PrivateNetworkAllowance;
  /** Herald's public URL: one-click unsubscribe links and SMS status callbacks point there. */
  publicUrl: string;
  /** Where providers post callbacks (SMS status). */
  callbackUrl: string;
  /** Signs one-click unsubscribe links (api/routes/email.ts verifies them). */
  unsubscribeSecret: Buffer;
  /** Provider requests kept in flight by this process, per channel. */
  concurrency: number;
  /** This process's share of each provider account's rate and connections (process-share.ts). */
  share: Share;
  backoff?: BackoffPolicy | undefined;
  /** The process's one clock: claims, expiries, breakers, retries and the senders' throttles and tokens. */
  clock: Clock;
}

/**
 * How long a claim holds before a crashed worker's jobs come back. It must outlast the slowest
 * batch: a push gets at most three requests (one at once after a lost connection, one after a token
 * refresh), each given up after the sender's 10 s timeout, so 45 s leaves room and still brings a
 * killed worker's jobs back within a minute.
 */
const leaseMs = 45_000;
/** An email may take two SMTP transactions (a pooled connection found closed), 30 s each. */
const emailLeaseMs = 90_000;

export function startWorkers(deps: WorkerDeps): { stop(): Promise<void> } {
  const ca = deps.sandbox?.caPem;
  const logFor = (part: string) => deps.log.child({ part });
  const share = deps.share;
  // Every connection to a host a tenant named goes through the guard; APNs's hosts are Apple's or the sandbox's.
  const guard = createOutboundGuard(deps.privateNetworks);
  const clock = () => deps.clock.now();
  const apns = createApnsSender({ log: logFor('apns'), ca, share, clock });
  const fcm = createFcmSender({ log: logFor('fcm'), ca, share, guard, clock });
  const webpush = createWebPushSender({ log: logFor('webpush'), ca, share, guard, clock });
  const email = createEmailSender({ log: logFor('email'), ca, share, guard, clock });
  const sms = createSmsSender({ log: logFor('sms'), ca, share, guard, clock });
  const accounts = channelAccounts({ credentials: deps.credentials, sandbox: deps.sandbox, publicUrl: deps.publicUrl });
  const breakers = createCircuitBreakers();

  const deliveries = <C>(topic: string, lanes: number, sender: ChannelSender<C>, lease = leaseMs) =>
    startConsumer({
      queue: deps.queue, topic, log: deps.log, lanes, batchSize: Math.max(1, Math.ceil(deps.concurrency / lanes)), leaseMs: lease,
      handle: deliveryHandler({
        sql: deps.sql, queue: deps.queue, log: deps.log, events: deps.events, claimMs: lease, backoff: deps.backoff, breakers, sender, clock: deps.clock,
      }),
    });
  const consumers = [
    startConsumer({
      queue: deps.queue, topic: topics.fanout, log: deps.log, lanes: 2, batchSize: 8, leaseMs,
      handle: fanoutHandler({ sql: deps.sql, queue: deps.queue, log: deps.log }),
    }),
    // Several lanes per channel, so one lane's database round trips overlap another's sends.
    deliveries(topics.apns, 4, apnsChannel({ credentialsFor: accounts.apns, send: (c, r) => apns.send(c, r) })),
    deliveries(topics.fcm, 2, fcmChannel({ credentialsFor: accounts.fcm, send: (c, r) => fcm.send(c, r) })),
    deliveries(topics.webpush, 2, webPushChannel({ credentialsFor: accounts.webpush, send: (c, r) => webpush.send(c, r) })),
    deliveries(topics.email, 2, emailChannel({
      credentialsFor: accounts.email, send: (c, m) => email.send(c, m), publicUrl: deps.publicUrl, unsubscribeSecret: deps.unsubscribeSecret, now: clock,
    }), emailLeaseMs),
    deliveries(topics.sms, 2, smsChannel({ credentialsFor: accounts.sms, send: (c, m) => sms.send(c, m), callbackUrl: deps.callbackUrl })),
    startConsumer({
      queue: deps.queue, topic: topics.importProfiles, log: deps.log, lanes: 1, batchSize: 1, leaseMs,
      handle: importHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock }),
    }),
    startConsumer({
      queue: deps.queue, topic: topics.applyAudiences, log: deps.log, lanes: 2, batchSize: 1, leaseMs,
      handle: applyAudiencesHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock }),
    }),
  ];
  return {
    stop: async () => {
      await Promise.all(consumers.map((c) => c.stop()));
      await Promise.all([apns, fcm, webpush, email, sms].map((s) => s.close()));
    },
  };
}
