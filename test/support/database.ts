/**
 * A real, isolated PostgreSQL database per test: created fresh and migrated on the server at
 * HERALD_TEST_DATABASE_URL, or on an embedded server when that variable is unset
 * (scripts/run-tests.mjs starts one embedded server for the whole run and sets the variable).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres, { type Sql } from 'postgres';
import { connect } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/store/embedded.js';
import { silentLogger } from '../../src/observability/logger.js';

export interface TestDatabase {
  url: string;
  sql: Sql;
  close(): Promise<void>;
}

let embedded: Promise<EmbeddedDatabase> | undefined;

/** The server URL tests create their databases on. */
export async function testServerUrl(): Promise<string> {
  const url = process.env.HERALD_TEST_DATABASE_URL;
  if (url) return url;
  embedded ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-test-pg-'));
    await chmod(dir, 0o755);
    const db = await startEmbeddedPostgres(dir, silentLogger());
    process.once('exit', () => void db.stop());
    return db;
  })();
  return (await embedded).url;
}

export async function testDatabase(opts: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = await testServerUrl();
  const name = 'herald_test_' + randomBytes(6).toString('hex');
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = '/' + name;
  const url = u.toString();
  const sql = connect(url, 10);
  if (opts.migrate !== false) await migrate(sql);
  return {
    url,
    sql,
    close: async () => {
      await sql.end({ timeout: 5 });
      const a = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
