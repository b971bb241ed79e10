/**
 * The master key that seals provider secrets (src/store/sealed.ts): HERALD_MASTER_KEY when set,
 * else `<dataDir>/master.key`, created on first start. Every process sharing a database must hold
 * the same key, so the database keeps a check value of its key and a process with another key
 * refuses to start rather than failing to open every secret later.
 *
 * While the master key is rotated (src/store/rotate-master-key.ts) a process also holds the key
 * being replaced: HERALD_PREVIOUS_MASTER_KEY, else `<dataDir>/master.key.old`. It is accepted when
 * either key is the database's; settings `master_key_rotation` names the new key, and a process
 * that does not seal under it is refused until the rotation is done.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import { createKeyring, deriveKeys, type DerivedKeys, type Keyring } from './sealed.js';

export const masterKeyFileName = 'master.key';
/** The key being rotated away from, in the data folder, while a rotation runs. */
export const previousKeyFileName = 'master.key.old';
const newKeyFileName = 'master.key.new';
const keyBytes = 32;

export interface LoadedMasterKey {
  key: Buffer;
  /** Where it came from: the environment (or flag), or the key file at `path`. */
  source: 'env' | 'file';
  path?: string;
  /** True when this process wrote the key file just now. */
  created: boolean;
  /** The key a rotation moves away from, when one is given (HERALD_PREVIOUS_MASTER_KEY or master.key.old). */
  previous?: Buffer;
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

/**
 * Reads HERALD_MASTER_KEY, or reads (creating it once, mode 0600) the data folder's key file; and
 * the previous key, when there is one.
 */
export async function loadMasterKey(o: { masterKey: string | undefined; previousMasterKey?: string | undefined; dataDir: string }): Promise<LoadedMasterKey> {
  const previous = o.previousMasterKey !== undefined
    ? parseMasterKey(o.previousMasterKey, '--previous-master-key / HERALD_PREVIOUS_MASTER_KEY')
    : undefined;
  if (o.masterKey !== undefined) {
    return { key: parseMasterKey(o.masterKey, '--master-key / HERALD_MASTER_KEY'), source: 'env', created: false, previous };
  }
  const path = join(o.dataDir, masterKeyFileName);
  const created = await createKeyFileOnce(o.dataDir, path);
  const key = await readKeyFile(path);
  const oldPath = join(o.dataDir, previousKeyFileName);
  return { key, source: 'file', path, created, previous: previous ?? (await exists(oldPath) ? await readKeyFile(oldPath) : undefined) };
}

async function readKeyFile(path: string): Promise<Buffer> {
  const info = await stat(path);
  if (!info.isFile()) throw new ConfigError(`${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(`${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); ` +
      `it guards every provider secret: run chmod 600 ${path}`);
  }
  return parseMasterKey(await readFile(path, 'utf8'), path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * The first step of rotating a data folder's key: a new key becomes master.key and the old one
 * master.key.old, so every process started from now on holds both. Each step is atomic (link,
 * rename) and the new key is on disk before anything is sealed under it; run again after a crash,
 * it finishes the step it was in. Does nothing when master.key.old exists (a rotation under way).
 */
export async function installNewKeyFile(dataDir: string): Promise<void> {
  const path = join(dataDir, masterKeyFileName);
  const oldPath = join(dataDir, previousKeyFileName);
  const newPath = join(dataDir, newKeyFileName);
  if (!await exists(oldPath)) {
    if (!await exists(path)) throw new ConfigError(`there is no ${path} to rotate`);
    await createKeyFileOnce(dataDir, newPath);
    await link(path, oldPath);
  }
  if (await exists(newPath)) await rename(newPath, path);
  await syncDir(dataDir);
}

/**
 * The last step: master.key.old leaves the name processes read it under, renamed (not deleted:
 * backups taken before the rotation need it) to master.key.retired-<time>. Returns the new name.
 */
export async function retireOldKeyFile(dataDir: string): Promise<string | undefined> {
  const oldPath = join(dataDir, previousKeyFileName);
  if (!await exists(oldPath)) return undefined;
  // The file's name says when, for an operator: the OS's time, like the file's own mtime.
  const retired = join(dataDir, `${masterKeyFileName}.retired-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await rename(oldPath, retired);
  await syncDir(dataDir);
  return retired;
}

/** Makes renames and links in `dir` durable (POSIX: fsync of the directory). */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
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
 * Returns the check value the database names (one of the keyring's).
 */
export async function verifyMasterKey(sql: Sql, keyring: Keyring, loaded: Pick<LoadedMasterKey, 'source' | 'path' | 'created'>): Promise<string> {
  await sql`insert into settings (name, value) values ('master_key_check', ${keyring.checkValue}) on conflict (name) do nothing`;
  const rows = await sql<{ name: string; value: string }[]>`
    select name, value from settings where name in ('master_key_check', 'master_key_rotation')`;
  const check = rows.find((r) => r.name === 'master_key_check')!.value;
  const rotatingTo = rows.find((r) => r.name === 'master_key_rotation')?.value;
  const where = loaded.source === 'env' ? 'HERALD_MASTER_KEY' : `the master key in ${loaded.path}${loaded.created ? ' (generated just now)' : ''}`;
  if (rotatingTo !== undefined && rotatingTo !== keyring.checkValue) {
    throw new ConfigError(`${where} is not the new master key of the rotation under way (herald keys rotate-master): start every ` +
      'process with the new key as HERALD_MASTER_KEY and the old one as HERALD_PREVIOUS_MASTER_KEY (a data folder: ' +
      `its ${masterKeyFileName} and ${previousKeyFileName} do that) until the rotation is done.`);
  }
  if (keyring.checkValues.includes(check)) return check;
  const which = loaded.source === 'env' ? `${where} is not the master key` : `${where} is not the one`;
  throw new ConfigError(`${which} this database's provider secrets were sealed with. Every Herald process ` +
    'sharing a database needs the same key: set HERALD_MASTER_KEY on each to the key of the first one ' +
    `(the content of its ${masterKeyFileName}), or copy that file into this data folder with mode 0600.`);
}

/** settings.derived_keys: the derived keys of a rotated deployment, sealed (src/store/rotate-master-key.ts). */
export const derivedKeysContext = 'settings/derived_keys';

/**
 * The derived keys in use: those a rotation stored, else those of the key the database names (a
 * deployment that never rotated; also one whose rotation has not stored them yet).
 */
async function loadDerivedKeys(sql: Sql, keyring: Keyring, keys: Buffer[], check: string): Promise<DerivedKeys> {
  const [row] = await sql<{ value: string }[]>`select value from settings where name = 'derived_keys'`;
  if (!row) return deriveKeys(keys[keyring.checkValues.indexOf(check)]!);
  const stored = JSON.parse(keyring.open(Buffer.from(row.value, 'base64'), derivedKeysContext).toString('utf8')) as Record<string, string>;
  return Object.fromEntries(Object.entries(stored).map(([p, k]) => [p, Buffer.from(k, 'base64')])) as DerivedKeys;
}

/**
 * The keyring of this process, checked against the database. A process of one role on an external
 * database that had to generate its own key is warned: the other machines need that key too.
 */
export async function openKeyring(o: {
  masterKey: string | undefined; previousMasterKey?: string | undefined; dataDir: string; sql: Sql; log: Logger; shared: boolean;
}): Promise<Keyring> {
  const loaded = await loadMasterKey(o);
  const keys = [loaded.key, ...(loaded.previous ? [loaded.previous] : [])];
  const held = createKeyring(loaded.key, { previous: keys.slice(1) });
  const check = await verifyMasterKey(o.sql, held, loaded);
  if (loaded.created && o.shared) {
    o.log.warn({ path: loaded.path }, 'generated a new master key for provider secrets; every other Herald process ' +
      'on this database must use the same one (HERALD_MASTER_KEY or a copy of this file)');
  }
  return createKeyring(loaded.key, { previous: keys.slice(1), derived: await loadDerivedKeys(o.sql, held, keys, check) });
}
