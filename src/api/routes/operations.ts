/** Health, readiness and metrics: what an operator and a load balancer ask of every process. */
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import type { Registry } from 'prom-client';
import type { WorkQueue } from '../../queue/queue.js';

export const operationsRoutes =
  (deps: { sql: Sql; queue: WorkQueue; registry: Registry }): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', { schema: { summary: 'The process is up', tags: ['operations'] } }, async () => ({ status: 'ok' }));

    // Without PostgreSQL nothing can be accepted: 503, so a load balancer sends requests elsewhere.
    // Without the queue transport (NATS) requests are still accepted durably and wait in the
    // outbox: the process stays in rotation and says it is degraded.
    app.get('/readyz', { schema: { summary: 'The database and the queue answer', tags: ['operations'] } }, async (_req, reply) => {
      const [database, queue] = await Promise.all([
        deps.sql`select 1`.then(() => true, () => false),
        deps.queue.ping().catch(() => false),
      ]);
      const status = database && queue ? 'ready' : database ? 'degraded' : 'unavailable';
      return reply.code(database ? 200 : 503).send({ status, database, queue });
    });

    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_req, reply) => {
      return reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics());
    });
  };
