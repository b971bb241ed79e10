import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../config.js';
import { silentLogger } from '../observability/logger.js';
import { startHerald } from '../server.js';
import { testDatabase } from '../../test/support/database.js';
import { loadMasterKey, masterKeyFileName, openKeyring, parseMasterKey } from './master-key.js';

const tempDir = () => mkdtemp(join(tmpdir(), 'herald-master-key-'));

test('HERALD_MASTER_KEY is read as base64, base64url or hex of 32 bytes', () => {
  const key = randomBytes(32);
  assert.deepEqual(parseMasterKey(key.toString('base64'), 'k'), key);
  assert.deepEqual(parseMasterKey(key.toString('base64url'), 'k'), key);
  assert.deepEqual(parseMasterKey(key.toString('hex'), 'k'), key);
  assert.deepEqual(parseMasterKey(` ${key.toString('hex').toUpperCase()}\n`, 'k'), key);
});

test('anything else is refused with a message that does not repeat the value', () => {
  for (const bad of ['short', randomBytes(16).toString('base64'), randomBytes(33).toString('hex'), 'x'.repeat(44), randomBytes(32).toString('hex') + 'ab']) {
    assert.throws(() => parseMasterKey(bad, 'HERALD_MASTER_KEY'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /HERALD_MASTER_KEY must be 32 random bytes/);
      assert.ok(!err.message.includes(bad), 'the value is not echoed');
      return true;
    });
  }
});

test('without HERALD_MASTER_KEY a key file is created once, mode 0600, and read back', async () => {
  const dir = await tempDir();
  try {
    const first = await loadMasterKey({ masterKey: undefined, dataDir: join(dir, 'data') });
    assert.equal(first.created, true);
    assert.equal(first.source, 'file');
    const info = await stat(join(dir, 'data', masterKeyFileName));
    assert.equal(info.mode & 0o777, 0o600);
    const again = await loadMasterKey({ masterKey: undefined, dataDir: join(dir, 'data') });
    assert.equal(again.created, false);
    assert.deepEqual(again.key, first.key);
    assert.deepEqual(parseMasterKey(await readFile(join(dir, 'data', masterKeyFileName), 'utf8'), 'file'), first.key,
      'the file holds the key as base64, ready for HERALD_MASTER_KEY');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('processes starting at once all end with the same single key', async () => {
  const dir = await tempDir();
  try {
    const module = pathToFileURL(join(import.meta.dirname, 'master-key.js')).href;
    const script = `import(${JSON.stringify(module)}).then(async (m) => {
      const k = await m.loadMasterKey({ masterKey: undefined, dataDir: ${JSON.stringify(dir)} });
      process.stdout.write(k.key.toString('hex') + ' ' + k.created);
    })`;
    const run = () => promisify(execFile)(process.execPath, ['-e', script]).then((r) => r.stdout.split(' '));
    const inProcess = () => loadMasterKey({ masterKey: undefined, dataDir: dir }).then((k) => [k.key.toString('hex'), String(k.created)]);
    const results = await Promise.all([run(), run(), run(), run(), inProcess(), inProcess(), inProcess()]);
    assert.equal(new Set(results.map((r) => r[0])).size, 1, 'one key for all');
    assert.equal(results.filter((r) => r[1] === 'true').length, 1, 'exactly one of them created it');
    assert.deepEqual(await readdir(dir), [masterKeyFileName], 'no temporary files are left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a key file readable by group or others is refused, naming the fix', async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, masterKeyFileName);
    await writeFile(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    await chmod(path, 0o640);
    await assert.rejects(loadMasterKey({ masterKey: undefined, dataDir: dir }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /readable by group or others \(mode 640\).*chmod 600/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the database keeps the first key; a process with another key refuses to start', async () => {
  const db = await testDatabase();
  const dir = await tempDir();
  try {
    const keyA = randomBytes(32).toString('base64');
    const keyB = randomBytes(32).toString('base64');
    const config = (key: string) => loadConfig({}, {
      DATABASE_URL: db.url, HERALD_ROLE: 'api', HERALD_PORT: '0', HERALD_DATA_DIR: dir, HERALD_MASTER_KEY: key,
    });
    const first = await startHerald(config(keyA), silentLogger());
    await first.close();
    await assert.rejects(startHerald(config(keyB), silentLogger()), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /HERALD_MASTER_KEY is not the master key this database's provider secrets were sealed with/);
      assert.ok(!err.message.includes(keyA) && !err.message.includes(keyB));
      return true;
    });
    // A process that generates its own key file on a shared database is refused the same way.
    await assert.rejects(openKeyring({ masterKey: undefined, dataDir: dir, sql: db.sql, log: silentLogger(), shared: true }),
      /the master key in .*master\.key \(generated just now\) is not the one/);
    const again = await startHerald(config(keyA), silentLogger());
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db.close();
  }
});
