/**
 * herald migrate: applies the migrations this build knows and exits, printing what it applied.
 * Idempotent, and safe from several processes at once: migrate() takes PostgreSQL's advisory lock
 * for the whole transaction (src/store/migrate.ts), so a second run waits, then finds nothing left.
 * `herald start` migrates too; this lets a deployment migrate once before rolling out its processes.
 */
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { openDatabase } from '../store/database.js';
import { migrate, migrationVersions } from '../store/migrate.js';

export async function migrateCommand(config: Config, log: Logger): Promise<void> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 1, migrate: false });
  try {
    const applied = await migrate(db.sql);
    const known = await migrationVersions();
    process.stdout.write(JSON.stringify({ applied, known: known.length, latest: known.at(-1) }) + '\n');
  } finally {
    await db.close();
  }
}
