/**
 * Starts one Herald process in its role: the API, the workers, the scheduler, or all of them, over
 * one PostgreSQL and one queue. Stops in reverse order on close(): stop accepting, finish or release
 * the work in hand, then close the queue, the providers and, last, the database, whatever the state of
 * the others when the grace period ends.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { answers, openDatabase, type Database } from './store/database.js';
import { createCircuitBreakers } from './domain/circuit-breaker.js';
import { createPostgresQueue } from './queue/postgres/queue.js';
import { createJetStreamQueue } from './queue/jetstream/queue.js';
import type { WorkQueue } from './queue/queue.js';
import { buildApp } from './api/app.js';
import { createMetrics } from './observability/metrics.js';
import { createEvents } from './worker/events.js';
import { startWorkers } from './worker/workers.js';
import { startProcessShare } from './worker/process-share.js';
import { startScheduler } from './scheduler/scheduler.js';
import { createCredentialsCache } from './store/credentials-cache.js';
import { startSandbox } from './sandbox/index.js';
import { linkSandbox, sandboxOrigins, type SandboxLink } from './sandbox-link.js';
import type { PrivateNetworkAllowance } from './domain/network-address.js';
import type { BackoffPolicy } from './domain/retry.js';
import { openKeyring } from './store/master-key.js';
import { systemClock, type Clock } from './domain/clock.js';
import { exportsDirIn } from './store/export-files.js';
import { postgresStats } from './store/stats.js';

export interface Herald {
  /** The API's base URL, when this process serves it. */
  url: string | undefined;
  sandbox: SandboxLink | undefined;
  /**
   * Stops the process's parts in reverse order. The work in hand gets `graceMs` (unbounded when
   * absent); whatever is unfinished then is abandoned, and its jobs go back to the queue when their
   * leases expire. The database closes last in any case. True when everything stopped in time.
   */
  close(opts?: { graceMs?: number }): Promise<boolean>;
  /** Settles with the reason when a dependency this process supervises is gone for good (the
   *  embedded PostgreSQL kept dying): the process should stop and exit non-zero. */
  failed: Promise<Error>;
}

/** Knobs tests and benchmarks turn; production uses the defaults. */
export interface HeraldOverrides {
  backoff?: BackoffPolicy;
  /** The byte cap of a bulk import (256 MiB): tests lower it rather than send that much. */
  bulkBodyBytes?: number;
  /** The one clock of the process (domain/clock.ts), handed to every part: tests move it forward. */
  clock?: Clock;
  /** Tests: an answer its response schema would change is a 500 naming the route (api/route-contract.ts). */
  checkResponses?: boolean;
}

export async function startHerald(config: Config, log: Logger, overrides: HeraldOverrides = {}): Promise<Herald> {
  const clock = overrides.clock ?? systemClock;
  const closers: (() => Promise<void>)[] = [];
  let db: Database | undefined;
  let closing: Promise<boolean> | undefined;
  const close = (opts: { graceMs?: number } = {}) => closing ??= (async () => {
    const steps = closers.splice(0).reverse();
    const work = (async () => {
      for (const c of steps) await c().catch((err) => log.error({ err }, 'error while stopping'));
    })();
    // The database's own close takes up to a few seconds (the pool's second, PostgreSQL's fast
    // shutdown): it gets the end of the grace period.
    const budget = opts.graceMs === undefined ? undefined : Math.max(opts.graceMs - 2_000, opts.graceMs / 2);
    const inTime = await finishesWithin(work, budget);
    if (!inTime) {
      log.warn({ graceSeconds: opts.graceMs! / 1000 },
        'the grace period ended with work still in hand: it is abandoned, and its jobs return to the queue when their leases expire');
    }
    await db?.close().catch((err) => log.error({ err }, 'error while closing the database'));
    return inTime;
  })();
  let giveUp!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => { giveUp = resolve; });
  try {
    db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 20, supervision: { onGiveUp: giveUp } });
    const runs = (r: string) => config.role === 'all' || config.role === r;
    // The processes that open provider secrets need the master key; a relay or scheduler does not.
    const keyring = runs('api') || runs('worker')
      ? await openKeyring({ masterKey: config.masterKey, previousMasterKey: config.previousMasterKey, dataDir: config.dataDir, sql: db.sql, log, shared: config.databaseUrl !== undefined })
      : undefined;
    // One cache and one derived key per process, shared by its API and workers.
    const credentials = keyring && createCredentialsCache({ sql: db.sql, keyring });
    const unsubscribeSecret = keyring?.secret('unsubscribe links');
    const queue: WorkQueue = config.natsUrl
      ? await createJetStreamQueue({
        sql: db.sql, log, maxAttempts: config.maxAttempts, natsUrl: config.natsUrl, replicas: config.natsReplicas,
        streamPrefix: config.natsStreamPrefix,
        // The outbox relay runs beside the API that fills the outbox, and in relay processes; several
        // relays are safe (each row is taken by one). A claim the stream cannot fill also relays
        // its topic's rows.
        relay: runs('relay') || runs('api'),
        clock,
      })
      : createPostgresQueue({ sql: db.sql, log, maxAttempts: config.maxAttempts, clock });
    closers.push(() => queue.close());
    log.info({ queue: config.natsUrl ? 'jetstream' : 'postgres', role: config.role }, 'work queue ready');
    const events = createEvents();
    // One set of circuit breakers per process: the worker's deliveries use them, /metrics reports them.
    const breakers = createCircuitBreakers();
    const opened = db;
    const metrics = createMetrics({ events, queue, database: db, databaseUp: () => answers(opened.sql), breakers: runs('worker') ? breakers : undefined, stats: postgresStats(db.sql), clock });

    let sandbox: SandboxLink | undefined;
    if (config.sandbox) {
      // The same clock as the senders: the simulators judge the tokens they sign (iat, exp).
      const s = await startSandbox({ host: config.sandboxHost, port: config.sandboxPort, log: log.child({ part: 'sandbox' }), clock: () => clock.now() });
      closers.push(s.close);
      sandbox = s;
      log.info({ inspection: s.inspectionUrl, endpoints: s.endpoints },
        'sandbox running: projects without provider credentials deliver to its simulators');
    } else if (config.sandboxUrl) {
      sandbox = await linkSandbox(config.sandboxUrl);
      log.info({ inspection: sandbox.inspectionUrl, endpoints: sandbox.endpoints },
        'using an external sandbox: projects without provider credentials deliver to its simulators');
    }

    // Tenants' endpoints and settings may name private addresses only where this allows it.
    const privateNetworks: PrivateNetworkAllowance = {
      all: config.allowPrivateNetworks, origins: sandbox ? sandboxOrigins(sandbox) : [],
    };

    if (runs('worker')) {
      const processShare = await startProcessShare({ sql: db.sql, log });
      closers.push(processShare.stop);
      const workers = startWorkers({
        sql: db.sql, queue, log, events, sandbox, concurrency: config.workerConcurrency, backoff: overrides.backoff, share: processShare.share,
        credentials: credentials!, privateNetworks, publicUrl: config.publicUrl, callbackUrl: config.callbackUrl, unsubscribeSecret: unsubscribeSecret!, clock, breakers, keyring,
        exportsDir: exportsDirIn(config.dataDir),
      });
      closers.push(workers.stop);
    }
    if (runs('scheduler')) {
      const scheduler = startScheduler({
        sql: db.sql, log, queue, reconcileAfterMs: config.reconcileAfterSeconds * 1000, clock, exportsDir: exportsDirIn(config.dataDir),
        inboxRetentionDays: config.inboxRetentionDays,
      });
      closers.push(scheduler.stop);
      log.info({ reconciler: queue.mayLoseJobs ? `after ${config.reconcileAfterSeconds} s` : 'not needed on this queue' },
        'scheduler running');
    }
    let url: string | undefined;
    if (runs('api')) {
      const app = await buildApp({
        sql: db.sql, queue, log, metrics, keyring: keyring!, rateLimits: config.rateLimits, httpLimits: config.httpLimits,
        bulkBodyBytes: overrides.bulkBodyBytes, databaseProblem: db.problem, checkResponses: overrides.checkResponses,
        unsubscribeSecret, privateNetworks, clock, exportsDir: exportsDirIn(config.dataDir), publicUrl: config.publicUrl,
        inboxRetentionDays: config.inboxRetentionDays,
        smsWebhooks: {
          publicBaseUrl: config.callbackUrl,
          // The account that sent the message signs its callbacks: the project's, or the project's own sandbox account.
          authTokenFor: async (projectId) => (await credentials!.get(projectId, 'sms'))?.auth_token
            ?? (sandbox && (await sandbox.smsAccountFor(projectId)).auth_token),
        },
      });
      url = await app.listen({ host: config.host, port: config.port });
      closers.push(() => app.close());
      log.info({ url, docs: url + '/docs', role: config.role }, 'Herald API listening');
    }
    return { url, sandbox, close, failed };
  } catch (err) {
    await close();
    throw err;
  }
}

/** True when `work` settles within `ms` (always, when `ms` is undefined). */
async function finishesWithin(work: Promise<void>, ms: number | undefined): Promise<boolean> {
  if (ms === undefined) return work.then(() => true);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([work.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
