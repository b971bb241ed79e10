/**
 * Builds Herald's HTTP API as a Fastify instance, without listening: the server calls listen(),
 * tests call inject() or listen on port 0.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import type { WorkQueue } from '../queue/queue.js';
import type { Metrics } from '../observability/metrics.js';
import { authenticator } from './auth.js';
import { errorHandler } from './error-handler.js';
import { errorBody, errorCatalogue } from './errors.js';
import { validatorCompiler } from './validation.js';
import { ErrorBody } from './schemas.js';
import { installationRoutes } from './routes/installations.js';
import { transactionalRoutes } from './routes/transactional.js';
import { messageRoutes } from './routes/messages.js';
import { operationsRoutes } from './routes/operations.js';

export interface ApiDeps {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  metrics: Metrics;
}

/** Large enough for 10,000 recipients with long ids; anything bigger is a 413. */
export const bodyLimitBytes = 1024 * 1024;

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // One line per request would dominate the logs at load; /metrics counts requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: bodyLimitBytes,
    // Behind a reverse proxy the client's address comes from X-Forwarded-For.
    trustProxy: true,
  });
  // JSON only: Fastify would otherwise parse text/plain into a string and answer a 400, not a 415.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.addSchema(ErrorBody);
  app.addHook('onRequest', authenticator(deps.sql));
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.observeRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald API',
        version: '1',
        description:
          'Every request carries `Authorization: Bearer <key>`. Errors are `{"error": {"code", "message"}}`; the codes:\n\n' +
          Object.entries(errorCatalogue).map(([code, e]) => `- \`${code}\` (${e.status}): ${e.meaning}`).join('\n'),
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(installationRoutes(deps.sql));
  await app.register(transactionalRoutes(deps));
  await app.register(messageRoutes(deps.sql));
  await app.register(operationsRoutes({ sql: deps.sql, queue: deps.queue, registry: deps.metrics.registry }));
  return app;
}
