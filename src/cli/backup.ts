/**
 * `herald backup FILE` and `herald restore FILE` (FILE `-`: standard output / input), on the
 * embedded PostgreSQL of --data-dir (started for the command, or the one a running `herald start`
 * owns) or on DATABASE_URL. The format and what a backup holds: src/store/backup.ts.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { BackupFormatError, type BackupHeader } from '../store/backup-format.js';
import { backupDatabase, BackupError, openBackup, restoreDatabase, type BackupSummary } from '../store/backup.js';
import { openDatabase } from '../store/database.js';
import { loadMasterKey, masterKeyFileName } from '../store/master-key.js';
import { createKeyring } from '../store/sealed.js';

/** Refusals and damaged files are the operator's to fix: a message, no stack trace. */
async function explained<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof BackupError || err instanceof BackupFormatError) throw new ConfigError(err.message);
    if ((err as { code?: string }).code === 'ENOENT') throw new ConfigError((err as Error).message);
    throw err;
  }
}

function where(config: Config): string {
  return config.databaseUrl ? 'DATABASE_URL' : `the embedded PostgreSQL in ${config.dataDir}`;
}

function summary(s: BackupSummary): string {
  const rows = Object.values(s.rows).reduce((a, b) => a + b, 0);
  return `${Object.keys(s.rows).length} tables, ${rows} rows, schema at migration ${s.migration}`;
}

export async function backupCommand(config: Config, log: Logger, file: string | undefined): Promise<void> {
  if (!file) throw new ConfigError('backup needs a FILE to write (- for standard output)');
  if (!config.databaseUrl && !existsSync(join(config.dataDir, 'postgres', 'PG_VERSION'))) {
    throw new ConfigError(`there is no embedded database in ${config.dataDir} to back up (set --data-dir, or --database-url)`);
  }
  await explained(async () => {
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 2, migrate: false });
    try {
      if (file === '-') {
        const s = await backupDatabase(db.sql, process.stdout);
        process.stderr.write(`backed up ${where(config)}: ${summary(s)}\n`);
        return;
      }
      // Written beside FILE and renamed into place once on disk: FILE is a whole backup or absent.
      // Mode 0600: a backup holds people's data and the sealed provider secrets.
      const partial = `${file}.partial-${process.pid}`;
      try {
        const s = await backupDatabase(db.sql, createWriteStream(partial, { flags: 'wx', mode: 0o600 }), {
          onTable: (table, rows) => log.debug({ table, rows }, 'table backed up'),
        });
        const fh = await open(partial, 'r');
        await fh.sync().finally(() => fh.close());
        await rename(partial, file);
        process.stderr.write(`backed up ${where(config)} to ${file}: ${summary(s)}. ` +
          `The master key is not in it: keep ${masterKeyFileName} (or HERALD_MASTER_KEY) safe, apart from the backup.\n`);
      } catch (err) {
        await unlink(partial).catch(() => {});
        throw err;
      }
    } finally {
      await db.close();
    }
  });
}

/**
 * The provider secrets in a backup open only with the master key that sealed them, and the key is
 * never in the backup. Checked before anything is written: the key must be given (HERALD_MASTER_KEY,
 * or master.key in the data folder) and be that key.
 */
async function checkMasterKey(config: Config, header: BackupHeader): Promise<void> {
  if (header.master_key_check === null) return; // no Herald with a key ever ran on it: nothing sealed
  const file = join(config.dataDir, masterKeyFileName);
  const how = `copy the ${masterKeyFileName} of the data folder the backup came from into ${config.dataDir} (mode 0600), ` +
    'or set HERALD_MASTER_KEY to it, and run the restore again';
  if (config.masterKey === undefined && !existsSync(file)) {
    throw new ConfigError("this backup's provider secrets are sealed with a master key, which a backup never contains, " +
      `and none was given: ${how}. Start Herald on the restored database with the same key.`);
  }
  const loaded = await loadMasterKey(config);
  if (createKeyring(loaded.key).checkValue !== header.master_key_check) {
    const which = loaded.source === 'env' ? 'HERALD_MASTER_KEY' : `the master key in ${loaded.path}`;
    throw new ConfigError(`${which} is not the key this backup's provider secrets were sealed with: ${how}`);
  }
}

export async function restoreCommand(config: Config, log: Logger, file: string | undefined): Promise<void> {
  if (!file) throw new ConfigError('restore needs the FILE of a backup (- for standard input)');
  await explained(async () => {
    const src: Readable = file === '-' ? process.stdin : createReadStream(file);
    // The file is read and checked before the database is touched: a wrong file creates nothing.
    const backup = await openBackup(src);
    await checkMasterKey(config, backup.header);
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 2, migrate: false });
    try {
      const s = await restoreDatabase(db.sql, backup);
      process.stderr.write(`restored the backup of ${backup.header.created_at} into ${where(config)}: ${summary(s)}\n`);
    } finally {
      await db.close();
      if (file !== '-') src.destroy();
    }
  });
}
