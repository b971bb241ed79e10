/**
 * The embedded PostgreSQL's data folder is private, and starting it changes no permission outside
 * that folder but one: run as root (PostgreSQL then runs as the postgres user), a folder above it
 * that the postgres user cannot pass through gets search for others (o+x) and nothing more, named
 * in a warning.
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

test('as root, a parent the postgres user cannot pass through gets o+x only, with a warning naming it', { timeout: 120_000, skip: !isRoot && 'needs root' }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'herald-perms-'));
  await chmod(parent, 0o700);
  const warnings: string[] = [];
  const log = silentLogger();
  log.warn = ((obj: { dir?: string }) => { if (obj.dir) warnings.push(obj.dir); }) as typeof log.warn;
  try {
    const pg = await startEmbeddedPostgres(join(parent, 'data'), log);
    await pg.stop();
    assert.equal(await modeOf(parent), 0o701, 'search for others added, nothing else: nobody can list or read it');
    assert.deepEqual(warnings, [parent]);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
