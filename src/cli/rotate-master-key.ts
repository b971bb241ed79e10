/**
 * herald keys rotate-master: re-seals every stored secret under a new master key
 * (src/store/rotate-master-key.ts; the steps for operators: docs/operations.md).
 *   - A data folder's key file: the command makes the new key itself (master.key, the old one
 *     becoming master.key.old) and, once everything is re-sealed, retires the old file.
 *   - HERALD_MASTER_KEY: the operator gives the new key there and the old one as
 *     HERALD_PREVIOUS_MASTER_KEY, the same way every process of the deployment gets them.
 * Run again after an interruption, it resumes. It never prints a key.
 */
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { openDatabase } from '../store/database.js';
import { installNewKeyFile, openKeyring, retireOldKeyFile } from '../store/master-key.js';
import { rotateMasterKey } from '../store/rotate-master-key.js';

export async function rotateMasterKeyCommand(config: Config, log: Logger): Promise<void> {
  const keyFile = config.masterKey === undefined;
  if (!keyFile && config.previousMasterKey === undefined) {
    throw new ConfigError('keys rotate-master re-seals under HERALD_MASTER_KEY: set it to the new key and ' +
      'HERALD_PREVIOUS_MASTER_KEY to the current one (docs/operations.md, Rotating the master key)');
  }
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log, max: 2 });
  try {
    if (keyFile) await installNewKeyFile(config.dataDir);
    const keyring = await openKeyring({ masterKey: config.masterKey, previousMasterKey: config.previousMasterKey,
      dataDir: config.dataDir, sql: db.sql, log, shared: false });
    const { resealed } = await rotateMasterKey(db.sql, keyring, {
      afterBatch: (n) => log.info({ resealed: n }, 're-sealed a batch under the new master key'),
    });
    const retired = keyFile ? await retireOldKeyFile(config.dataDir) : undefined;
    process.stdout.write(JSON.stringify({ resealed, master_key_id: keyring.keyId.toString('hex'), ...(retired && { retired_key_file: retired }) }) + '\n');
  } finally {
    await db.close();
  }
}
