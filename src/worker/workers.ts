/**
 * The worker role: the fan-out consumer, one delivery consumer per channel of the registry
 * (src/channels/registry.ts) with the sender its definition starts (connection pools, rate limits),
 * the bulk profile import, custom audiences' member changes, campaigns' fan-out and send steps, the
 * circuit breakers the channels share, and the webhook dispatcher (webhook-dispatcher.ts).
 */
import type { Sql } from 'postgres';
import type { SandboxLink } from '../sandbox-link.js';
import type { CredentialsCache } from '../store/credentials-cache.js';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import { startConsumer } from './consume.js';
import { fanoutHandler } from './fanout.js';
import { deliveryHandler } from './deliver.js';
import { channelRegistry } from '../channels/registry.js';
import type { ChannelSender } from '../channels/channel.js';
import { deliveryTopicOf, topics } from './topics.js';
import { importHandler } from './import-profiles.js';
import { applyAudiencesHandler } from './apply-audiences.js';
import { campaignFanoutHandler } from './campaign-fanout.js';
import { campaignSendHandler } from './campaign-send.js';
import { exportHandler } from './export-run.js';
import type { HeraldEvents } from './events.js';
import type { BackoffPolicy } from '../domain/retry.js';
import { createCircuitBreakers, type CircuitBreakers } from '../domain/circuit-breaker.js';
import type { Share } from '../domain/process-share.js';
import type { PrivateNetworkAllowance } from '../domain/network-address.js';
import { createOutboundGuard } from '../providers/outbound-guard.js';
import type { Clock } from '../domain/clock.js';
import type { Keyring } from '../store/sealed.js';
import { startWebhookDispatcher, type WebhookDispatcherDeps } from './webhook-dispatcher.js';
import { startAutomationWebhooks } from './automation-webhooks.js';
import { closeWebhookConnections } from '../providers/webhooks/client.js';

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
  /** The provider accounts' circuit breakers, shared with /metrics; new ones when absent. */
  breakers?: CircuitBreakers | undefined;
  /** Opens the webhook endpoints' signing secrets; without it this process sends no webhooks. */
  keyring?: Keyring | undefined;
  /** Where exports' files are written (store/export-files.ts); without it this process writes none. */
  exportsDir?: string | undefined;
  /** The webhook dispatcher's settings (tests shorten its timeouts and polls). */
  webhooks?: Partial<Omit<WebhookDispatcherDeps, 'sql' | 'keyring' | 'log' | 'guard' | 'clock'>> | undefined;
}

/**
 * How long a claim holds before a crashed worker's jobs come back. It must outlast the slowest
 * batch: a push gets at most three requests (one at once after a lost connection, one after a token
 * refresh), each given up after the sender's 10 s timeout, so 45 s leaves room and still brings a
 * killed worker's jobs back within a minute.
 */
const leaseMs = 45_000;

export function startWorkers(deps: WorkerDeps): { stop(): Promise<void> } {
  const ca = deps.sandbox?.caPem;
  const share = deps.share;
  // Every connection to a host a tenant named goes through the guard; APNs's hosts are Apple's or the sandbox's.
  const guard = createOutboundGuard(deps.privateNetworks);
  const clock = () => deps.clock.now();
  const started = channelRegistry.map((def) => ({
    def,
    ...def.start({
      log: deps.log, ca, share, guard, clock, credentials: deps.credentials, sandbox: deps.sandbox,
      publicUrl: deps.publicUrl, callbackUrl: deps.callbackUrl, unsubscribeSecret: deps.unsubscribeSecret,
    }),
  }));
  const breakers = deps.breakers ?? createCircuitBreakers();

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
      handle: fanoutHandler({ sql: deps.sql, queue: deps.queue, log: deps.log, clock: deps.clock }),
    }),
    // Several lanes per channel, so one lane's database round trips overlap another's sends.
    ...started.map((c) => deliveries(deliveryTopicOf(c.def.name), c.def.worker.lanes, c.sender, c.def.worker.leaseMs)),
    startConsumer({
      queue: deps.queue, topic: topics.importProfiles, log: deps.log, lanes: 1, batchSize: 1, leaseMs,
      handle: importHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock }),
    }),
    startConsumer({
      queue: deps.queue, topic: topics.applyAudiences, log: deps.log, lanes: 2, batchSize: 1, leaseMs,
      handle: applyAudiencesHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock }),
    }),
    startConsumer({
      queue: deps.queue, topic: topics.campaignFanout, log: deps.log, lanes: 1, batchSize: 1, leaseMs,
      handle: campaignFanoutHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock, log: deps.log }),
    }),
    startConsumer({
      queue: deps.queue, topic: topics.campaignSend, log: deps.log, lanes: 2, batchSize: 1, leaseMs,
      handle: campaignSendHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock, log: deps.log }),
    }),
    ...(deps.exportsDir ? [startConsumer({
      queue: deps.queue, topic: topics.exportPage, log: deps.log, lanes: 1, batchSize: 1, leaseMs,
      handle: exportHandler({ sql: deps.sql, queue: deps.queue, clock: deps.clock, exportsDir: deps.exportsDir, log: deps.log }),
    })] : []),
  ];
  // Webhooks go to URLs tenants chose: through the same guard as their push endpoints.
  const webhooks = deps.keyring && startWebhookDispatcher({ ...deps.webhooks, sql: deps.sql, keyring: deps.keyring, log: deps.log, guard, clock: deps.clock });
  // Automations' webhook steps: signed with an endpoint's secret, through the same guard.
  const automationWebhooks = deps.keyring && startAutomationWebhooks({ sql: deps.sql, keyring: deps.keyring, log: deps.log, guard, clock: deps.clock });
  return {
    stop: async () => {
      await Promise.all([...consumers.map((c) => c.stop()), webhooks?.stop(), automationWebhooks?.stop()]);
      await Promise.all(started.map((c) => c.close()));
      if (webhooks) closeWebhookConnections();
    },
  };
}
