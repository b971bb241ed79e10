/**
 * Versioned SQL migrations: src/store/migrations/NNNN_name.sql, applied in order, each in its own
 * transaction, recorded in herald_migrations. An advisory lock lets many processes start at once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql, TransactionSql } from 'postgres';
import { packageRoot } from '../paths.js';

const migrationsDir = join(packageRoot, 'src', 'store', 'migrations');
const lockId = 0x4845524c; // "HERL"

/** The migrations this build knows, in order (file names without `.sql`). */
export async function migrationVersions(): Promise<string[]> {
  return (await readdir(migrationsDir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort().map((f) => f.slice(0, -4));
}

export async function migrate(sql: Sql): Promise<string[]> {
  return sql.begin((tx) => applyMigrations(tx));
}

/** Takes the lock that orders schema changes, until the end of the transaction. */
export async function lockMigrations(tx: TransactionSql): Promise<void> {
  await tx`select pg_advisory_xact_lock(${lockId})`;
}

/**
 * Applies, inside the caller's transaction, the migrations not yet applied: all of this build's, or
 * only those listed in `only` (a restore recreates exactly the schema its backup was taken from).
 */
export async function applyMigrations(tx: TransactionSql, only?: readonly string[]): Promise<string[]> {
  const wanted = only ? new Set(only) : undefined;
  const applied: string[] = [];
  await lockMigrations(tx);
  await tx`create table if not exists herald_migrations (
    version text primary key, applied_at timestamptz not null default now())`;
  const done = new Set((await tx<{ version: string }[]>`select version from herald_migrations`).map((r) => r.version));
  for (const version of await migrationVersions()) {
    if (done.has(version) || (wanted && !wanted.has(version))) continue;
    await tx.unsafe(await readFile(join(migrationsDir, version + '.sql'), 'utf8'));
    await tx`insert into herald_migrations (version) values (${version})`;
    applied.push(version);
  }
  return applied;
}

/** The migrations recorded as applied, in order; undefined when the database was never migrated. */
export async function appliedMigrations(sql: Sql): Promise<string[] | undefined> {
  const [table] = await sql<{ t: string | null }[]>`select to_regclass('herald_migrations')::text as t`;
  if (!table?.t) return undefined;
  return (await sql<{ version: string }[]>`select version from herald_migrations order by version`).map((r) => r.version);
}
