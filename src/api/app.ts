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
import cookie from '@fastify/cookie';
import { authenticator, defaultAuthCacheLimits } from './auth.js';
import { registerAudit } from './operator-auth.js';
import { dashboardAccountRoutes } from './routes/dashboard-accounts.js';
import { dashboardAssetRoutes } from './routes/dashboard-assets.js';
import { dashboardHealthRoutes } from './routes/dashboard-health.js';
import { errorHandler } from './error-handler.js';
import { errorBody, errorCatalogue } from './errors.js';
import { validatorCompiler } from './validation.js';
import { refuseUnstorableInput } from './storable-input.js';
import { ErrorBody, errorResponses, OpenObject } from './schemas.js';
import { checkResponses, enforceRouteContract } from './route-contract.js';
import { installationRoutes } from './routes/installations.js';
import { transactionalRoutes } from './routes/transactional.js';
import { messageRoutes } from './routes/messages.js';
import { operationsRoutes } from './routes/operations.js';
import { profileRoutes } from './routes/profiles.js';
import { importJobRoutes } from './routes/import-jobs.js';
import { sdkDataRoutes } from './routes/sdk-data.js';
import { inboxRoutes } from './routes/inbox.js';
import { inAppRoutes } from './routes/in-app.js';
import { inAppSdkRoutes } from './routes/in-app-sdk.js';
import { registerSdkCors } from './sdk-cors.js';
import { createRateLimiter, defaultRateLimits, type RateLimits } from './rate-limit.js';
import { emailRoutes } from './routes/email.js';
import { emailFeedbackRoutes } from './routes/email-feedback.js';
import { trackingRoutes } from './routes/tracking.js';
import { statsRoutes } from './routes/stats.js';
import { segmentRoutes } from './routes/segments.js';
import { cappingRoutes } from './routes/cappings.js';
import { campaignRoutes } from './routes/campaigns.js';
import { automationRoutes } from './routes/automations.js';
import { audienceRoutes } from './routes/audiences.js';
import { createUploadStager } from './bulk-upload.js';
import { limits as operationLimits } from '../domain/profile-operations.js';
import { sdkAssetRoutes } from './routes/sdk-assets.js';
import { smsWebhookRoutes, type SmsWebhookOptions } from './routes/sms-webhooks.js';
import { providerRoutes } from './routes/providers.js';
import { webhookRoutes } from './routes/webhooks.js';
import { exportRoutes } from './routes/exports.js';
import { sdkConfigRoutes } from './routes/sdk-config.js';
import { projectRoutes } from './routes/project.js';
import type { Keyring } from '../store/sealed.js';
import type { PrivateNetworkAllowance } from '../domain/network-address.js';
import { clientErrorHandler, defaultHttpLimits, httpServerOptions, maxParamBytes, type HttpLimits } from './http-limits.js';
import { systemClock, type Clock } from '../domain/clock.js';

export interface ApiDeps {
  sql: Sql;
  queue: WorkQueue;
  log: Logger;
  metrics: Metrics;
  /** Per-project rates of the profile and SDK data endpoints; defaultRateLimits when absent. */
  rateLimits?: RateLimits | undefined;
  /** Signs and verifies one-click unsubscribe links; without it POST/GET /v1/email/unsubscribe are absent. */
  unsubscribeSecret?: string | Buffer | undefined;
  /** Twilio webhooks: each project's auth token, and the public URL Twilio calls. Without it every webhook is refused (403). */
  smsWebhooks?: Omit<SmsWebhookOptions, 'sql'> | undefined;
  /** Seals provider secrets (src/store/sealed.ts). */
  keyring: Keyring;
  /**
   * Where tenants' push endpoints and provider settings may name private addresses: nowhere by
   * default; the sandbox's own origins, or everywhere with --allow-private-networks.
   */
  privateNetworks?: PrivateNetworkAllowance | undefined;
  /** The byte cap of a bulk import; limits.bulkBytes (256 MiB) unless a test lowers it. */
  bulkBodyBytes?: number | undefined;
  /** Socket deadlines and the connection cap; defaultHttpLimits for any left out. */
  httpLimits?: Partial<HttpLimits> | undefined;
  /** Why the database is known to be down (the embedded PostgreSQL restarting), for /readyz. */
  databaseProblem?: () => string | undefined;
  /** The process's one clock (domain/clock.ts): rate limits, message times and expiries. */
  clock?: Clock | undefined;
  /** Where exports' files are (store/export-files.ts); without it (or the unsubscribe secret, which signs their links) /v1/exports is absent. */
  exportsDir?: string | undefined;
  /** Herald's public URL: export download links start with it. */
  publicUrl?: string | undefined;
  /** Days an inbox item is shown (--inbox-retention-days); 90 when absent. */
  inboxRetentionDays?: number | undefined;
  /** Tests: an answer its response schema would change is a 500 naming the route (route-contract.ts). */
  checkResponses?: boolean | undefined;
}

/** Large enough for 10,000 recipients with long ids; anything bigger is a 413. */
export const bodyLimitBytes = 1024 * 1024;

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const limits: HttpLimits = { ...defaultHttpLimits, ...deps.httpLimits };
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // One line per request would dominate the logs at load; /metrics counts requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: bodyLimitBytes,
    // Behind a reverse proxy the client's address comes from X-Forwarded-For.
    trustProxy: true,
    routerOptions: { maxParamLength: maxParamBytes },
    // A path Fastify cannot route (%zz, a segment past maxParamBytes) gets the catalogue's error body.
    frameworkErrors: errorHandler,
    http: httpServerOptions(limits),
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    clientErrorHandler,
  });
  app.server.maxConnections = limits.maxConnections;
  // JSON only: Fastify would otherwise parse text/plain into a string and answer a 400, not a 415.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.addSchema(ErrorBody);
  // Before authentication, so a refused SDK call still carries the CORS headers a browser needs to read it.
  await registerSdkCors(app);
  const clock = deps.clock ?? systemClock;
  // Cookies matter only to dashboard sessions: they are parsed by api/operator-auth.ts when a request
  // carries no API key, not on every request (hook: false), so the keyed hot path pays nothing.
  await app.register(cookie, { hook: false });
  const auth = authenticator(deps.sql, defaultAuthCacheLimits, clock);
  app.addHook('onRequest', auth.hook);
  registerAudit(app, deps.sql, clock);
  app.addHook('preValidation', refuseUnstorableInput);
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
    // Shared schemas keep their $id as their name under components.schemas (`Error`, not `def-0`):
    // generated clients name their types after it.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // Every route from here on is Herald's, and declares what it answers (route-contract.ts).
  const contract = enforceRouteContract(app);
  if (deps.checkResponses) checkResponses(app);
  app.get('/openapi.json', {
    schema: { hide: true, response: { 200: OpenObject('The OpenAPI 3.1 document of this API.'), ...errorResponses() } },
  }, async () => app.swagger());

  await app.register(installationRoutes(deps.sql, deps.keyring, deps.privateNetworks));
  await app.register(transactionalRoutes(deps));
  await app.register(messageRoutes(deps.sql));
  await app.register(emailRoutes({ sql: deps.sql, unsubscribeSecret: deps.unsubscribeSecret, clock: deps.clock }));
  await app.register(emailFeedbackRoutes({ sql: deps.sql, clock: deps.clock }));
  if (deps.unsubscribeSecret) await app.register(trackingRoutes({ sql: deps.sql, secret: deps.unsubscribeSecret, clock: deps.clock }));
  await app.register(providerRoutes({ sql: deps.sql, keyring: deps.keyring, privateNetworks: deps.privateNetworks }));
  if (deps.exportsDir && deps.unsubscribeSecret) {
    const linkSecret = Buffer.isBuffer(deps.unsubscribeSecret) ? deps.unsubscribeSecret : Buffer.from(deps.unsubscribeSecret);
    await app.register(exportRoutes({ sql: deps.sql, queue: deps.queue, exportsDir: deps.exportsDir, linkSecret, publicUrl: deps.publicUrl, clock }));
  }
  await app.register(webhookRoutes({ sql: deps.sql, keyring: deps.keyring, privateNetworks: deps.privateNetworks, clock }));
  await app.register(sdkConfigRoutes({ sql: deps.sql, keyring: deps.keyring }));
  await app.register(operationsRoutes({ sql: deps.sql, queue: deps.queue, registry: deps.metrics.registry, databaseProblem: deps.databaseProblem }));
  await app.register(sdkAssetRoutes());
  await app.register(dashboardAssetRoutes());
  const limiter = createRateLimiter(deps.rateLimits ?? defaultRateLimits, () => clock.now());
  await app.register(profileRoutes({ sql: deps.sql, limiter, clock }));
  await app.register(segmentRoutes({ sql: deps.sql, clock }));
  await app.register(cappingRoutes({ sql: deps.sql, clock }));
  await app.register(campaignRoutes({ sql: deps.sql, queue: deps.queue, clock }));
  await app.register(automationRoutes({ sql: deps.sql, queue: deps.queue, clock }));
  await app.register(statsRoutes({ sql: deps.sql, clock }));
  await app.register(dashboardAccountRoutes({ sql: deps.sql, clock }));
  await app.register(dashboardHealthRoutes({ sql: deps.sql, queue: deps.queue, registry: deps.metrics.registry, clock, databaseProblem: deps.databaseProblem }));
  // One stager for every bulk endpoint, so a project's uploads in flight are counted together.
  const uploads = createUploadStager({ sql: deps.sql, maxBytes: deps.bulkBodyBytes ?? operationLimits.bulkBytes });
  await app.register(importJobRoutes({ sql: deps.sql, queue: deps.queue, uploads }));
  await app.register(audienceRoutes({ sql: deps.sql, queue: deps.queue, uploads, clock }));
  await app.register(sdkDataRoutes({ sql: deps.sql, keyring: deps.keyring, limiter, clock }));
  await app.register(inboxRoutes({ sql: deps.sql, keyring: deps.keyring, limiter, clock, retentionDays: deps.inboxRetentionDays }));
  await app.register(inAppRoutes({ sql: deps.sql, clock }));
  await app.register(inAppSdkRoutes({ sql: deps.sql, limiter, clock }));
  await app.register(projectRoutes({ sql: deps.sql, keyring: deps.keyring, forgetKeyId: auth.forgetKeyId }));
  await app.register(smsWebhookRoutes({ sql: deps.sql, authTokenFor: async () => undefined, clock, ...deps.smsWebhooks }));
  contract.check();
  return app;
}
