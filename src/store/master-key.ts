/**
 * The master key that seals provider secrets (src/store/sealed.ts): HERALD_MASTER_KEY when set,
 * else `<dataDir>/master.key`, created on first start. Every process sharing a database must hold
 * the same key, so the database keeps a check value of the first key it saw and a process with
 * another key refuses to start rather than failing to open every secret later.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import { createKeyring, type Keyring } from './sealed.js';

export const masterKeyFileName = 'master.key';
const keyBytes = 32;

export interface LoadedMasterKey {
  key: Buffer;
  /** Where it came from: the environment (or flag), or the key file at `path`. */
  source: 'env' | 'file';
  path?: string;
  /** True when this process wrote the key file just now. */
  created: boolean;
}

/**
 * 32 bytes written as base64 (standard or url-safe, padding optional) or hex. Anything else is
 * refused, and the message never repeats the value.
 */
export function parseMasterKey(text: string, where: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  // Node's base64 decoder reads the url-safe alphabet too.
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) key = Buffer.from(t, 'base64');
  if (!key || key.length !== keyBytes) {
    throw new ConfigError(`${where} must be 32 random bytes written as base64 (44 characters) or hex (64 characters); ` +
      `it has ${t.length} characters. Generate one with: openssl rand -base64 32`);
  }
  return key;
}

/** Reads HERALD_MASTER_KEY, or reads (creating it once, mode 0600) the data folder's key file. */
export async function loadMasterKey(o: { masterKey: string | undefined; dataDir: string }): Promise<LoadedMasterKey> {
  if (o.masterKey !== undefined) return { key: parseMasterKey(o.masterKey, '--master-key / HERALD_MASTER_KEY'), source: 'env', created: false };
  const path = join(o.dataDir, masterKeyFileName);
  const created = await createKeyFileOnce(o.dataDir, path);
  const info = await stat(path);
  if (!info.isFile()) throw new ConfigError(`${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(`${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); ` +
      `it guards every provider secret: run chmod 600 ${path}`);
  }
  return { key: parseMasterKey(await readFile(path, 'utf8'), path), source: 'file', path, created };
}

/**
 * Writes a new key to a private temporary file, then links it into place: link() fails if the name
 * exists (the O_EXCL guarantee), and the key file never exists half-written, so processes starting
 * at once all end up reading the one key that won.
 */
async function createKeyFileOnce(dataDir: string, path: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const file = await open(tmp, 'wx', 0o600);
  try {
    await file.writeFile(randomBytes(keyBytes).toString('base64') + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp);
  }
}

/**
 * Binds the database to this key on first use and refuses a process holding another key: the
 * check value (an HMAC of a constant under the key) is stored once and compared on every start.
 */
export async function verifyMasterKey(sql: Sql, keyring: Keyring, loaded: Pick<LoadedMasterKey, 'source' | 'path' | 'created'>): Promise<void> {
  await sql`insert into settings (name, value) values ('master_key_check', ${keyring.checkValue}) on conflict (name) do nothing`;
  const [row] = await sql<{ value: string }[]>`select value from settings where name = 'master_key_check'`;
  if (row?.value === keyring.checkValue) return;
  const which = loaded.source === 'env'
    ? 'HERALD_MASTER_KEY is not the master key'
    : `the master key in ${loaded.path}${loaded.created ? ' (generated just now)' : ''} is not the one`;
  throw new ConfigError(`${which} this database's provider secrets were sealed with. Every Herald process ` +
    'sharing a database needs the same key: set HERALD_MASTER_KEY on each to the key of the first one ' +
    `(the content of its ${masterKeyFileName}), or copy that file into this data folder with mode 0600.`);
}

/**
 * The keyring of this process, checked against the database. A process of one role on an external
 * database that had to generate its own key is warned: the other machines need that key too.
 */
export async function openKeyring(o: { masterKey: string | undefined; dataDir: string; sql: Sql; log: Logger; shared: boolean }): Promise<Keyring> {
  const loaded = await loadMasterKey(o);
  const keyring = createKeyring(loaded.key);
  await verifyMasterKey(o.sql, keyring, loaded);
  if (loaded.created && o.shared) {
    o.log.warn({ path: loaded.path }, 'generated a new master key for provider secrets; every other Herald process ' +
      'on this database must use the same one (HERALD_MASTER_KEY or a copy of this file)');
  }
  return keyring;
}
