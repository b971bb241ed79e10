/** `herald migrate`: applies every migration once, from two processes at once, and again is a no-op. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../paths.js';
import { testDatabase } from '../../test/support/database.js';
import { migrationVersions } from '../store/migrate.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

test('two herald migrate processes on a fresh database: one applies everything, the other waits and finds nothing left; a third run applies nothing', async () => {
  const db = await testDatabase({ migrate: false });
  const migrateOnce = async () => {
    const { stdout } = await run(process.execPath, [cli, 'migrate', '--database-url', db.url], {
      env: { ...process.env, HERALD_DATA_DIR: '/nonexistent-herald-test-dir' },
    });
    return JSON.parse(stdout) as { applied: string[]; known: number; latest: string };
  };
  try {
    const known = await migrationVersions();
    const [a, b] = await Promise.all([migrateOnce(), migrateOnce()]);
    const applied = [a.applied, b.applied].sort((x, y) => y.length - x.length);
    assert.deepEqual(applied, [known, []], 'all of them, once');
    assert.equal(a.known, known.length);
    assert.equal(a.latest, known.at(-1));
    const rows = await db.sql<{ version: string }[]>`select version from herald_migrations order by version`;
    assert.deepEqual(rows.map((r) => r.version), known);
    assert.deepEqual((await migrateOnce()).applied, [], 'idempotent');
  } finally {
    await db.close();
  }
});
