/**
 * A whole Herald in the test process, on its own fresh database: the API on an ephemeral port,
 * the workers, and (unless told otherwise) the sandbox's simulators on ephemeral ports.
 */
import { loadConfig } from '../../src/config.js';
import { startHerald, type Herald, type HeraldOverrides } from '../../src/server.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { createProject, type CreatedProject } from '../../src/store/projects.js';
import { testDatabase, type TestDatabase } from './database.js';
import { testMasterKey } from './keyring.js';
import type { Keyring } from '../../src/store/sealed.js';
import { freePort } from './process.js';

export interface TestHerald {
  herald: Herald;
  url: string;
  db: TestDatabase;
  project: CreatedProject;
  /** The keyring of the Herald's master key, to create more projects or open sealed rows. */
  keyring: Keyring;
  /** fetch against the API with the project's REST key (or `key`). */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function startTestHerald(
  opts: { env?: Record<string, string>; overrides?: HeraldOverrides; sandbox?: boolean; log?: Logger } = {},
): Promise<TestHerald> {
  const db = await testDatabase();
  const masterKey = testMasterKey();
  let herald: Herald | undefined;
  try {
    // A port known before listening, so the public URL (SMS status callbacks) can name it. Another
    // process may take it between freePort() and Herald's listen (tests run in parallel): then
    // another port is tried (startHerald has stopped what it had started).
    for (let tries = 1; !herald; tries++) {
      try {
        herald = await startOn(opts.env?.HERALD_PORT ?? String(await freePort()));
      } catch (err) {
        if (opts.env?.HERALD_PORT || tries >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  } catch (err) {
    await db.close(); // or the test file waits on its pool until it times out
    throw err;
  }
  const project = await createProject(db.sql, 'test', masterKey.keyring);
  const url = herald.url!;
  const started = herald;
  return {
    herald: started,
    url,
    db,
    project,
    keyring: masterKey.keyring,
    call: async (method, path, body, headers = {}) => {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${project.rest_key}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON: keep the text */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    close: async () => {
      await started.close();
      await db.close();
    },
  };

  function startOn(port: string): Promise<Herald> {
    const config = loadConfig({}, {
      DATABASE_URL: db.url,
      HERALD_PORT: port,
      // People's links (one-click unsubscribe) need https; the simulators call back over plain HTTP.
      HERALD_PUBLIC_URL: 'https://herald.example.com',
      HERALD_CALLBACK_URL: `http://127.0.0.1:${port}`,
      HERALD_SANDBOX: opts.sandbox === false ? 'false' : 'true',
      HERALD_SANDBOX_PORT: '0',
      HERALD_DATA_DIR: '/nonexistent-herald-test-dir',
      HERALD_MASTER_KEY: masterKey.text,
      ...opts.env,
    });
    // Every answer is checked against what its response schema sends (api/route-contract.ts).
    return startHerald(config, opts.log ?? silentLogger(), { checkResponses: true, ...opts.overrides });
  }
}

export { eventually } from './eventually.js';
