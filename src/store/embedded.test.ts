/**
 * The embedded PostgreSQL's data folder is private, and starting it changes no permission outside
 * that folder: run as root (PostgreSQL then runs as the postgres user), a folder above it that the
 * postgres user cannot enter is named in a clear error instead of being opened up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from './embedded.js';
import { silentLogger } from '../observability/logger.js';

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;
const isRoot = userInfo().uid === 0;

test('the data folder becomes private and its parent keeps its mode', { timeout: 120_000 }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'herald-perms-'));
  await chmod(parent, 0o755);
  const dataDir = join(parent, 'data');
  try {
    const pg = await startEmbeddedPostgres(dataDir, silentLogger());
    await pg.stop();
    assert.equal(await modeOf(parent), 0o755, 'the parent folder keeps its permissions');
    // The postgres user may pass through (not list) the data folder only when it must: under root.
    assert.equal(await modeOf(dataDir), isRoot ? 0o711 : 0o700);
    assert.equal(await modeOf(join(dataDir, 'postgres-password')), 0o600);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});

test('as root, a parent the postgres user cannot enter is named, not opened up', { timeout: 60_000, skip: !isRoot && 'needs root' }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'herald-perms-'));
  await chmod(parent, 0o700);
  try {
    await assert.rejects(startEmbeddedPostgres(join(parent, 'data'), silentLogger()),
      (err: Error) => err.message.includes(`cannot enter ${parent} (mode 700)`));
    assert.equal(await modeOf(parent), 0o700, 'the parent folder was not made world-searchable');
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
