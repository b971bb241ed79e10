/**
 * Versioned SQL migrations: src/store/migrations/NNNN_name.sql, applied in order, each in its own
 * transaction, recorded in herald_migrations. An advisory lock lets many processes start at once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import { packageRoot } from '../paths.js';

const migrationsDir = join(packageRoot, 'src', 'store', 'migrations');
const lockId = 0x4845524c; // "HERL"

export async function migrate(sql: Sql): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${lockId})`;
    await tx`create table if not exists herald_migrations (
      version text primary key, applied_at timestamptz not null default now())`;
    const done = new Set((await tx<{ version: string }[]>`select version from herald_migrations`).map((r) => r.version));
    for (const file of files) {
      const version = file.slice(0, -4);
      if (done.has(version)) continue;
      await tx.unsafe(await readFile(join(migrationsDir, file), 'utf8'));
      await tx`insert into herald_migrations (version) values (${version})`;
      applied.push(version);
    }
  });
  return applied;
}
