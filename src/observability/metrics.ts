/**
 * Prometheus metrics, fed by lifecycle events and read from the queue at scrape time. One registry
 * per process (no global state), so tests can build several Herald instances side by side.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueStats, WorkQueue } from '../queue/queue.js';
import type { HeraldEvents } from '../worker/events.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { StatsStore } from '../store/stats.js';
import { analyticsTotals, registerAnalyticsMetrics } from './analytics-metrics.js';

export interface Metrics {
  registry: Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

export interface MetricsDeps {
  events: HeraldEvents;
  queue: WorkQueue;
  database?: { restarts(): number };
  /** Whether PostgreSQL answers now (a `select 1` under a deadline): the record of truth, apart from the queue. */
  databaseUp?: () => Promise<boolean>;
  /** This worker process's circuit breakers (provider accounts), when it runs the worker role. */
  breakers?: { openCount(now: number): number };
  /** The analytics rollups, exported as the herald_analytics_* counters (analytics-metrics.ts). */
  stats?: StatsStore;
  clock?: Clock;
}

export function createMetrics(deps: MetricsDeps): Metrics {
  const clock = deps.clock ?? systemClock;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_' });

  const requests = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP requests by route and status, with their duration',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'herald_provider_attempts_total',
    help: 'Provider requests by channel and outcome',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'herald_provider_latency_seconds',
    help: 'Provider request latency by channel',
    labelNames: ['channel'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const finals = new Counter({
    name: 'herald_deliveries_total',
    help: 'Deliveries reaching a final status, by channel and status',
    labelNames: ['channel', 'status'],
    registers: [registry],
  });
  const ambiguous = new Counter({
    name: 'herald_deliveries_ambiguous_total',
    help: 'Deliveries whose earlier provider call was cut off by a crash: re-sent with the same provider key, or marked unknown',
    labelNames: ['channel', 'action'],
    registers: [registry],
  });
  deps.events.on('delivery:ambiguous', (e) => ambiguous.inc({ channel: e.channel, action: e.resent ? 'resent' : 'unknown' }));
  deps.events.on('delivery:attempt', (e) => {
    attempts.inc({ channel: e.channel, outcome: e.outcome });
    latency.observe({ channel: e.channel }, e.latencyMs / 1000);
  });
  deps.events.on('delivery:final', (e) => finals.inc({ channel: e.channel, status: e.status }));

  // The queue's numbers are read once per scrape and shared by its gauges: prom-client collects
  // all metrics concurrently, so each gauge awaits the same snapshot instead of racing another's.
  let snapshot: { at: number; stats: Promise<QueueStats[] | undefined> } | undefined;
  const queueStats = () => {
    if (!snapshot || clock.now() - snapshot.at > 1_000) {
      snapshot = { at: clock.now(), stats: deps.queue.stats().catch(() => undefined) };
    }
    return snapshot.stats;
  };
  const perTopic = (name: string, help: string, pick: (s: QueueStats) => number) =>
    new Gauge({
      name, help, labelNames: ['topic'], registers: [registry],
      async collect() {
        this.reset();
        for (const s of (await queueStats()) ?? []) this.set({ topic: s.topic }, pick(s));
      },
    });
  perTopic('herald_queue_depth', 'Jobs waiting or in progress', (s) => s.depth);
  perTopic('herald_queue_oldest_age_seconds', 'Age of the oldest ready job', (s) => s.oldestAgeSeconds);
  perTopic('herald_queue_dead_letters', 'Jobs in the dead-letter table', (s) => s.deadLettered);
  new Gauge({
    name: 'herald_queue_up',
    help: '1 when the queue backend (PostgreSQL, and NATS JetStream when configured) answered at the last scrape',
    registers: [registry],
    async collect() {
      // With NATS down the per-topic gauges still show the backlog piling up in the PostgreSQL
      // outbox; with PostgreSQL down they are empty. Either way this says 0.
      this.set((await deps.queue.ping().catch(() => false)) ? 1 : 0);
    },
  });

  if (deps.databaseUp) {
    const up = deps.databaseUp;
    new Gauge({
      name: 'herald_database_up',
      help: '1 when PostgreSQL answered a select 1 at the last scrape (within 2 s)',
      registers: [registry],
      async collect() { this.set((await up().catch(() => false)) ? 1 : 0); },
    });
  }
  if (deps.breakers) {
    const breakers = deps.breakers;
    new Gauge({
      name: 'herald_provider_breakers_open',
      help: 'Provider accounts whose circuit breaker is open in this worker process: their deliveries wait for the provider',
      registers: [registry],
      collect() { this.set(breakers.openCount(clock.now())); },
    });
  }

  new Counter({
    name: 'herald_embedded_postgres_restarts_total',
    help: 'Restarts of the embedded PostgreSQL after it exited unexpectedly (always 0 with DATABASE_URL)',
    registers: [registry],
    collect() {
      // The supervisor counts; the counter mirrors it at scrape time.
      this.reset();
      this.inc(deps.database?.restarts() ?? 0);
    },
  });

  if (deps.stats) registerAnalyticsMetrics(registry, analyticsTotals(deps.stats, clock));

  return {
    registry,
    observeRequest: (method, route, status, seconds) => requests.observe({ method, route, status: String(status) }, seconds),
  };
}
