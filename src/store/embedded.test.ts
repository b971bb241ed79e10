/**
 * The embedded PostgreSQL's data folder is private, and starting it changes no permission outside
 * that folder but one: run as root (PostgreSQL then runs as the postgres user), a folder above it
 * that the postgres user cannot pass through gets search for others (o+x) and nothing more, named
 * in a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from './embedded.js';
import { silentLogger } from '../observability/logger.js';
import { eventually } from '../../test/support/eventually.js';

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

test('a server that keeps dying is restarted up to the limit, then supervision gives up (herald start then exits non-zero)', { timeout: 120_000 }, async () => {
  const parent = await mkdtemp(join(tmpdir(), 'herald-giveup-'));
  await chmod(parent, 0o755);
  const dataDir = join(parent, 'data');
  const pidOf = async () => Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  let gaveUp: (err: Error) => void = () => {};
  const givenUp = new Promise<Error>((r) => { gaveUp = r; });
  // Two restarts allowed within the window: the third exit is one too many.
  const pg = await startEmbeddedPostgres(dataDir, silentLogger(), { maxRestarts: 2, windowMs: 60_000, onGiveUp: (err) => gaveUp(err) });
  try {
    let pid = await pidOf();
    for (let restart = 1; restart <= 2; restart++) {
      const dead = pid;
      process.kill(dead, 'SIGKILL');
      pid = await eventually(async () => {
        const now = await pidOf().catch(() => undefined);
        return now && now !== dead && pg.restarts() === restart && pg.problem() === undefined ? now : undefined;
      }, 60_000, `restart ${restart}`);
    }
    process.kill(pid, 'SIGKILL');
    const err = await Promise.race([givenUp, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000).unref())]);
    assert.ok(err, 'supervision gave up after the third exit');
    assert.match(err.message, /exited 2 times within 1 minutes; Herald gave up/);
    assert.equal(pg.restarts(), 2);
    assert.match(pg.problem() ?? '', /gave up/);
  } finally {
    await pg.stop().catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
});
