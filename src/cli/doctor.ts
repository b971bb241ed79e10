/**
 * herald doctor: checks what a deployment depends on and prints one line per check (ok / warn /
 * FAIL); exits 1 when any check failed. It changes nothing: no migration, no key file created, no
 * stream made. The judgments are src/domain/doctor.ts's; this file measures. It never prints a
 * secret (database and NATS URLs are shown by host only, credentials by project and provider).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config.js';
import {
  doctorExitCode, formatCheck, judgeClockSkew, judgeDurability, judgeJobStream, judgeMigrations, type CheckResult,
} from '../domain/doctor.js';
import type { Logger } from '../observability/logger.js';
import { inspectJobStream } from '../queue/jetstream/inspect.js';
import { openDatabase, type Database } from '../store/database.js';
import { loadMasterKey, masterKeyFileName } from '../store/master-key.js';
import { appliedMigrations, migrationVersions } from '../store/migrate.js';
import { credentialsThatDoNotOpen } from '../store/provider-credentials.js';
import { createKeyring, type Keyring } from '../store/sealed.js';
import { serverFacts } from '../store/server-facts.js';

const message = (err: unknown) => ((err as Error).message ?? String(err)).split('\n')[0]!;

/** postgres://user:secret@db.example:5432/herald → db.example:5432 (never the password). */
function hostOf(url: string): string {
  try {
    const u = new URL(url);
    return u.host || 'a local socket';
  } catch {
    return 'an unparsable URL';
  }
}

async function masterKeyCheck(config: Config): Promise<{ result: CheckResult; keyring?: Keyring }> {
  const check = 'master key';
  const path = join(config.dataDir, masterKeyFileName);
  if (config.masterKey === undefined && !(await stat(path).then(() => true, () => false))) {
    return { result: { check, verdict: 'fail', detail: `none: HERALD_MASTER_KEY is not set and ${path} does not exist (herald start creates it on a first start)` } };
  }
  try {
    const loaded = await loadMasterKey({ masterKey: config.masterKey, previousMasterKey: config.previousMasterKey, dataDir: config.dataDir });
    const keyring = createKeyring(loaded.key, { previous: loaded.previous ? [loaded.previous] : [] });
    const where = loaded.source === 'env' ? 'HERALD_MASTER_KEY' : loaded.path!;
    const previous = loaded.previous ? ', with a previous key (a rotation under way)' : '';
    return { result: { check, verdict: 'ok', detail: `${where}, key id ${keyring.keyId.toString('hex')}${previous}` }, keyring };
  } catch (err) {
    return { result: { check, verdict: 'fail', detail: message(err) } };
  }
}

async function databaseChecks(config: Config, db: Database, keyring: Keyring | undefined): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const facts = await serverFacts(db.sql);
  out.push({ check: 'postgres', verdict: 'ok', detail: `PostgreSQL ${facts.version} at ${db.embedded ? `the embedded server in ${config.dataDir}` : hostOf(db.url)}` });
  out.push(...judgeDurability(facts.settings));
  const applied = await appliedMigrations(db.sql);
  out.push(judgeMigrations(applied, await migrationVersions()));
  if (applied !== undefined && keyring) {
    const [bound] = await db.sql<{ value: string }[]>`select value from settings where name = 'master_key_check'`;
    if (bound && !keyring.checkValues.includes(bound.value)) {
      out.push({ check: 'master key of the database', verdict: 'fail', detail: 'the database was bound to another master key: every secret in it is unreadable to this key (docs/operations.md, One master key per deployment)' });
    } else {
      out.push({ check: 'master key of the database', verdict: 'ok', detail: bound ? 'the database names this key' : 'not bound yet (the first start binds it)' });
    }
    const { total, failing } = await credentialsThatDoNotOpen(db.sql, keyring);
    if (failing.length) {
      const named = failing.map((f) => `project ${f.project_id} (${f.provider})`).join(', ');
      out.push({ check: 'provider credentials', verdict: 'fail', detail: `${failing.length} of ${total} do not open with this master key: ${named}; put them again (PUT /v1/providers/...) or start with the key that sealed them` });
    } else {
      out.push({ check: 'provider credentials', verdict: 'ok', detail: total ? `all ${total} open with this master key` : 'none stored' });
    }
  }
  out.push(judgeClockSkew(facts.skewMs, facts.rttMs));
  return out;
}

async function natsChecks(config: Config): Promise<CheckResult[]> {
  if (!config.natsUrl?.length) return [{ check: 'nats', verdict: 'ok', detail: 'not configured: jobs move through PostgreSQL\'s queue' }];
  const hosts = config.natsUrl.map(hostOf).join(', ');
  try {
    const facts = await inspectJobStream({ natsUrl: config.natsUrl, prefix: config.natsStreamPrefix });
    return [
      { check: 'nats', verdict: 'ok', detail: `nats-server ${facts.serverVersion} at ${hosts}` },
      judgeJobStream({ name: facts.stream, replicas: facts.replicas, problems: facts.problems }, config.natsReplicas),
    ];
  } catch (err) {
    return [{ check: 'nats', verdict: 'fail', detail: `${hosts} does not answer: ${message(err)}` }];
  }
}

/** Runs every check, writes the lines to `out`, and returns the exit code. */
export async function doctor(
  values: Record<string, string | boolean | undefined>, env: Record<string, string | undefined>, log: Logger, out: (line: string) => void,
): Promise<number> {
  const results: CheckResult[] = [];
  const print = (r: CheckResult) => { results.push(r); out(formatCheck(r)); };
  let config: Config;
  try {
    config = loadConfig(values, env);
    print({ check: 'configuration', verdict: 'ok', detail: `role ${config.role}, data folder ${config.dataDir}, database ${config.databaseUrl ? 'DATABASE_URL' : 'embedded'}` });
  } catch (err) {
    print({ check: 'configuration', verdict: 'fail', detail: message(err) });
    return doctorExitCode(results);
  }
  const key = await masterKeyCheck(config);
  print(key.result);
  let db: Database | undefined;
  try {
    db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 2, migrate: false });
  } catch (err) {
    print({ check: 'postgres', verdict: 'fail', detail: `${config.databaseUrl ? hostOf(config.databaseUrl) : 'the embedded server'} does not answer: ${message(err)}` });
  }
  if (db) {
    try {
      for (const r of await databaseChecks(config, db, key.keyring)) print(r);
    } catch (err) {
      print({ check: 'postgres', verdict: 'fail', detail: `${db.embedded ? 'the embedded server' : hostOf(db.url)} does not answer: ${message(err)}` });
    } finally {
      await db.close();
    }
  }
  for (const r of await natsChecks(config)) print(r);
  return doctorExitCode(results);
}
