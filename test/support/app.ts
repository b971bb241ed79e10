/**
 * The API as route tests use it: the whole app (auth, validation, error handler, the response
 * contract checked) on a throwaway database with a PostgreSQL queue, and two projects, so a test
 * can show that one project never sees another's data.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { testDatabase, type TestDatabase } from './database.js';
import { testMasterKey } from './keyring.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createEvents } from '../../src/worker/events.js';
import { createPostgresQueue } from '../../src/queue/postgres/queue.js';
import type { WorkQueue } from '../../src/queue/queue.js';
import { createProject, type CreatedProject } from '../../src/store/projects.js';
import { buildApp, type ApiDeps } from '../../src/api/app.js';

export interface RouteTestApp {
  db: TestDatabase;
  queue: WorkQueue;
  app: FastifyInstance;
  /** The project the calls use unless told otherwise. */
  project: CreatedProject;
  /** A second project, for isolation checks. */
  other: CreatedProject;
  /** A REST call with a project's key (the first project's by default). */
  call(method: InjectOptions['method'], url: string, payload?: unknown, o?: { p?: CreatedProject; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** `name` names the first project; `deps` adds to or replaces what the app is built with (a clock...). */
export async function routeTestApp(name: string, deps: Partial<ApiDeps> = {}): Promise<RouteTestApp> {
  const { keyring } = testMasterKey();
  const db = await testDatabase();
  const queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 3 });
  const app = await buildApp({
    keyring, sql: db.sql, queue, log: silentLogger(), metrics: createMetrics({ events: createEvents(), queue }), checkResponses: true, ...deps,
  });
  const project = await createProject(db.sql, name, keyring);
  const other = await createProject(db.sql, 'other', keyring);
  return {
    db, queue, app, project, other,
    call: (method, url, payload, o = {}) => app.inject({
      method, url,
      headers: { authorization: `Bearer ${(o.p ?? project).rest_key}`, ...o.headers },
      ...(payload === undefined ? {} : { payload: payload as object }),
    }),
    close: async () => {
      await app.close();
      await queue.close();
      await db.close();
    },
  };
}
