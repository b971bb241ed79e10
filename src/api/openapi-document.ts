/**
 * The API's OpenAPI document without a running server: the app is built on a database handle
 * that is never queried (postgres.js connects on the first query), and asked for its document.
 * The dashboard's typed client is generated from it (scripts/openapi.mjs), so the dashboard
 * compiles only against the API as it is.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { silentLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createPostgresQueue } from '../queue/postgres/queue.js';
import { createKeyring } from '../store/sealed.js';
import { createEvents } from '../worker/events.js';
import { buildApp } from './app.js';

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const sql = postgres({ host: '127.0.0.1', port: 1, max: 1 });
  const log = silentLogger();
  const queue = createPostgresQueue({ sql, log, maxAttempts: 1 });
  const app = await buildApp({
    sql, queue, log, keyring: createKeyring(randomBytes(32)), metrics: createMetrics({ events: createEvents(), queue }),
    unsubscribeSecret: randomBytes(32), exportsDir: 'exports', // named, never written to
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
    await queue.close();
    await sql.end({ timeout: 0 });
  }
}
