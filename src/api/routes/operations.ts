/** Health, readiness and metrics: what an operator and a load balancer ask of every process. */
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import type { Registry } from 'prom-client';
import type { WorkQueue } from '../../queue/queue.js';

export const operationsRoutes =
  (deps: { sql: Sql; queue: WorkQueue; registry: Registry }): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', { schema: { summary: 'The process is up', tags: ['operations'] } }, async () => ({ status: 'ok' }));

    app.get('/readyz', { schema: { summary: 'The database and the queue answer', tags: ['operations'] } }, async (_req, reply) => {
      const [database, queue] = await Promise.all([
        deps.sql`select 1`.then(() => true, () => false),
        deps.queue.ping().catch(() => false),
      ]);
      const ready = database && queue;
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'degraded', database, queue });
    });

    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_req, reply) => {
      return reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics());
    });
  };
