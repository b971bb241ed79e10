/** Health, readiness and metrics: what an operator and a load balancer ask of every process. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Sql } from 'postgres';
import type { Registry } from 'prom-client';
import type { WorkQueue } from '../../queue/queue.js';
import { errorResponses, textResponse } from '../schemas.js';

/** Each check of /readyz gets this long, so the probe answers within a second whatever hangs. */
export const checkTimeoutMs = 750;

/** 'up', or 'down: why' (a driver's message names a host and port at most, never a credential). */
async function probe(run: () => Promise<unknown>, known?: string): Promise<string> {
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

const check = Type.String({ description: '`up`, or `down: ` and why.' });
const ReadinessSchema = (description: string) => Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('unavailable')]),
  database: check,
  queue: check,
}, { description });

export interface Readiness {
  status: 'ready' | 'degraded' | 'unavailable';
  database: string;
  queue: string;
}

/** What /readyz answers (and the dashboard's health screen shows): each dependency probed under its deadline. */
export async function readiness(deps: { sql: Sql; queue: WorkQueue; databaseProblem?: (() => string | undefined) | undefined }): Promise<Readiness> {
  const [database, queue] = await Promise.all([
    probe(() => deps.sql`select 1`, deps.databaseProblem?.()),
    probe(() => deps.queue.ping()),
  ]);
  const dbUp = database === 'up';
  return { status: dbUp && queue === 'up' ? 'ready' : dbUp ? 'degraded' : 'unavailable', database, queue };
}

export const operationsRoutes =
  (deps: { sql: Sql; queue: WorkQueue; registry: Registry; databaseProblem?: (() => string | undefined) | undefined }): FastifyPluginAsyncTypebox =>
  async (app) => {
    // Liveness: the process answers. It checks no dependency, so an outage of PostgreSQL or NATS
    // never gets a healthy process restarted (readiness takes it out of rotation instead).
    app.get('/healthz', {
      schema: {
        summary: 'The process is up', tags: ['operations'], security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }), ...errorResponses() },
      },
    }, async () => ({ status: 'ok' as const }));

    // Without PostgreSQL nothing can be accepted: 503, so a load balancer sends requests elsewhere.
    // Without the queue transport (NATS) requests are still accepted durably and wait in the
    // outbox: the process stays in rotation and says it is degraded.
    app.get('/readyz', {
      schema: {
        summary: 'The database and the queue answer, or why not', tags: ['operations'], security: [],
        response: {
          200: ReadinessSchema('The database answers (the queue may not: degraded, requests are still stored).'),
          500: errorResponses()[500]!,
          503: ReadinessSchema('The database does not answer: nothing can be accepted here.'),
        },
      },
    }, async (_req, reply) => {
      const r = await readiness(deps);
      return reply.code(r.status === 'unavailable' ? 503 : 200).send(r);
    });

    app.get('/metrics', {
      schema: {
        summary: 'Prometheus metrics', tags: ['operations'], security: [],
        response: { 200: textResponse('text/plain', 'The Prometheus text exposition format (version 0.0.4).'), ...errorResponses() },
      },
    }, async (_req, reply) => {
      return reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics());
    });
  };
