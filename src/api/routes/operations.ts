/** Health, readiness and metrics: what an operator and a load balancer ask of every process. */
import type { FastifyPluginAsync } from 'fastify';
import type { Sql } from 'postgres';
import type { Registry } from 'prom-client';
import type { WorkQueue } from '../../queue/queue.js';

/** Each check of /readyz gets this long, so the probe answers within a second whatever hangs. */
export const checkTimeoutMs = 750;

/** 'up', or 'down: why' (a driver's message names a host and port at most, never a credential). */
async function check(run: () => Promise<unknown>, known?: string): Promise<string> {
  if (known) return `down: ${known}`;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`down: no answer within ${checkTimeoutMs} ms`), checkTimeoutMs);
  });
  const answer = run().then(
    (ok) => (ok === false ? 'down: no answer' : 'up'),
    (err: Error) => `down: ${String(err?.message ?? err).slice(0, 200)}`,
  );
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const operationsRoutes =
  (deps: { sql: Sql; queue: WorkQueue; registry: Registry; databaseProblem?: (() => string | undefined) | undefined }): FastifyPluginAsync =>
  async (app) => {
    // Liveness: the process answers. It checks no dependency, so an outage of PostgreSQL or NATS
    // never gets a healthy process restarted (readiness takes it out of rotation instead).
    app.get('/healthz', { schema: { summary: 'The process is up', tags: ['operations'] } }, async () => ({ status: 'ok' }));

    // Without PostgreSQL nothing can be accepted: 503, so a load balancer sends requests elsewhere.
    // Without the queue transport (NATS) requests are still accepted durably and wait in the
    // outbox: the process stays in rotation and says it is degraded.
    app.get('/readyz', { schema: { summary: 'The database and the queue answer, or why not', tags: ['operations'] } }, async (_req, reply) => {
      const [database, queue] = await Promise.all([
        check(() => deps.sql`select 1`, deps.databaseProblem?.()),
        check(() => deps.queue.ping()),
      ]);
      const dbUp = database === 'up';
      const status = dbUp && queue === 'up' ? 'ready' : dbUp ? 'degraded' : 'unavailable';
      return reply.code(dbUp ? 200 : 503).send({ status, database, queue });
    });

    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_req, reply) => {
      return reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics());
    });
  };
