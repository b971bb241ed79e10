/**
 * A real, isolated PostgreSQL database per test: created fresh and migrated on the server at
 * HERALD_TEST_DATABASE_URL, or on an embedded server when that variable is unset
 * (scripts/run-tests.mjs starts one embedded server for the whole run and sets the variable).
 *
 * A database is dropped after the test that closed it passed; a failing test keeps its database
 * as evidence and prints its name (`# kept database herald_test_… of failing test "…"`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'node:test';
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

type Outcome = 'running' | 'passed' | 'failed';
/** The test running now (node:test runs a file's tests one after another), and how each ended. */
let current: string | undefined;
const outcomes = new Map<string, Outcome>();
/** Databases closed while the test that made them was still running: settled once it ends. */
const pending = new Map<string, string[]>();
let fileFailed = false;

async function dropDatabases(names: string[]): Promise<void> {
  if (!names.length) return;
  const a = postgres(await testServerUrl(), { max: 1, onnotice: () => {} });
  try {
    for (const name of names) await a.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await a.end();
  }
}

function keep(names: string[], why: string): void {
  for (const name of names) console.log(`# kept database ${name} of ${why} (on ${process.env.HERALD_TEST_DATABASE_URL ?? 'the embedded server'})`);
}

/** After its close(): dropped if the test that made it passed, kept if it failed, settled later if it runs. */
async function settle(name: string, owner: string | undefined): Promise<void> {
  const outcome = owner === undefined ? (fileFailed ? 'failed' : 'passed') : outcomes.get(owner);
  if (outcome === 'running') pending.set(owner!, [...(pending.get(owner!) ?? []), name]);
  else if (outcome === 'failed') keep([name], owner ? `failing test "${owner}"` : 'a test file with a failing test');
  else await dropDatabases([name]);
}

// Registered on the root of each test file that uses a database, when node's test runner runs it
// (benchmarks import these helpers too, and must not start a test run). `passed` and `fullName`
// (Node ≥ 20.12) are not yet in @types/node 20.
type Ctx = { name: string; fullName?: string; passed?: boolean };
const nameOf = (t: Ctx) => t.fullName ?? t.name;
if (process.env.NODE_TEST_CONTEXT) {
  beforeEach((context) => {
    current = nameOf(context as unknown as Ctx);
    outcomes.set(current, 'running');
  });
  afterEach(async (context) => {
    const t = context as unknown as Ctx;
    const name = nameOf(t);
    const failed = t.passed === false;
    if (failed) fileFailed = true;
    outcomes.set(name, failed ? 'failed' : 'passed');
    current = undefined;
    const names = pending.get(name) ?? [];
    pending.delete(name);
    if (failed) keep(names, `failing test "${name}"`);
    else await dropDatabases(names);
  });
}

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
  const owner = current;
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
      await settle(name, owner);
    },
  };
}
