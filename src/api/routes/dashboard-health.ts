/**
 * The dashboard's system health (GET /v1/dashboard/health): what /readyz and /metrics tell an
 * operator, as one JSON answer a dashboard session may read (a viewer of the project it names;
 * the figures are the instance's, not the project's). Nothing new is measured here: the
 * readiness is /readyz's own code, the queue and breaker figures are the metrics registry's
 * gauges read as a scrape reads them, and the outbox is the backlog the JetStream backend keeps
 * in PostgreSQL while NATS is away (relay/outbox.ts).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import type { Sql } from 'postgres';
import type { Clock } from '../../domain/clock.js';
import type { WorkQueue } from '../../queue/queue.js';
import { outboxBacklog } from '../../relay/outbox.js';
import { authorizeOperator } from '../operator-auth.js';
import { DateTime, errorResponses, Nullable, operatorErrors } from '../schemas.js';
import { readiness } from './operations.js';

const check = Type.String({ description: '`up`, or `down: ` and why (as /readyz says it).' });
const Health = Type.Object({
  checked_at: DateTime,
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')], {
    description: 'As /readyz: degraded is the database up and the queue transport (NATS) not: requests are still stored, and wait.',
  }),
  database: check,
  queue: check,
  queue_backend: Type.Union([Type.Literal('postgres'), Type.Literal('jetstream')], { description: 'postgres, or jetstream (NATS_URL is set).' }),
  topics: Type.Array(Type.Object({
    topic: Type.String(),
    depth: Type.Number({ description: 'Jobs waiting or in progress (herald_queue_depth).' }),
    oldest_age_seconds: Type.Number({ description: 'Age of the oldest ready job (herald_queue_oldest_age_seconds).' }),
    dead_letters: Type.Number({ description: 'Jobs given up on, in the dead-letter table (herald_queue_dead_letters).' }),
  }), { description: 'Per topic, as the metrics\' gauges read them.' }),
  outbox: Type.Array(Type.Object({
    topic: Type.String(),
    rows: Type.Integer({ description: 'Jobs committed and not yet published to NATS JetStream.' }),
    oldest_age_seconds: Type.Number({ description: 'Age of the oldest due row, 0 when none is due.' }),
  }), { description: 'The JetStream backend\'s PostgreSQL outbox: the backlog that piles up while NATS is away (always empty with the PostgreSQL queue).' }),
  provider_breakers_open: Nullable(Type.Number({
    description: 'Provider accounts whose circuit breaker is open in this process (herald_provider_breakers_open): their deliveries wait. Null: this process runs no worker.',
  })),
  embedded_postgres_restarts: Type.Number({ description: 'Restarts of the embedded PostgreSQL (herald_embedded_postgres_restarts_total; 0 with DATABASE_URL).' }),
});

export interface DashboardHealthDeps {
  sql: Sql;
  queue: WorkQueue;
  registry: Registry;
  clock: Clock;
  databaseProblem?: (() => string | undefined) | undefined;
}

export const dashboardHealthRoutes = (deps: DashboardHealthDeps): FastifyPluginAsyncTypebox => async (app) => {
  const { sql, registry, clock } = deps;
  /** A metric's values as a scrape would read them (its collect() runs), or undefined when this process does not register it. */
  const values = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values;

  app.get('/v1/dashboard/health', {
    config: { auth: 'operator' },
    schema: {
      summary: 'The instance\'s health for the dashboard: readiness, the queue per topic, the outbox, provider breakers (a viewer)',
      tags: ['dashboard'],
      response: { 200: Health, ...errorResponses(operatorErrors, 'project_header_required', 'role_forbidden') },
    },
    handler: async (req) => {
      const o = req.operator!;
      await authorizeOperator(sql, req, { operator: o.operator, csrfToken: o.csrfToken, token: o.sessionToken }, 'viewer');
      const now = clock.now();
      const [ready, depth, age, dead, breakers, restarts, outbox] = await Promise.all([
        readiness(deps),
        values('herald_queue_depth'), values('herald_queue_oldest_age_seconds'), values('herald_queue_dead_letters'),
        values('herald_provider_breakers_open'), values('herald_embedded_postgres_restarts_total'),
        // Without PostgreSQL there is no outbox to read: the readiness above says why.
        outboxBacklog(sql, new Date(now)).catch(() => []),
      ]);
      const topics = new Map<string, { topic: string; depth: number; oldest_age_seconds: number; dead_letters: number }>();
      const at = (topic: string) => {
        let t = topics.get(topic);
        if (!t) topics.set(topic, t = { topic, depth: 0, oldest_age_seconds: 0, dead_letters: 0 });
        return t;
      };
      for (const v of depth ?? []) at(String(v.labels.topic)).depth = v.value;
      for (const v of age ?? []) at(String(v.labels.topic)).oldest_age_seconds = v.value;
      for (const v of dead ?? []) at(String(v.labels.topic)).dead_letters = v.value;
      return {
        checked_at: new Date(now), ...ready, queue_backend: deps.queue.backend,
        topics: [...topics.values()].sort((a, b) => a.topic.localeCompare(b.topic)),
        outbox: outbox.map((r) => ({ topic: r.topic, rows: r.rows, oldest_age_seconds: r.oldestDue ? Math.max(0, (now - r.oldestDue.getTime()) / 1000) : 0 })),
        provider_breakers_open: breakers?.[0]?.value ?? null,
        embedded_postgres_restarts: restarts?.[0]?.value ?? 0,
      };
    },
  });
};
