/**
 * Herald as a newcomer runs it: no DATABASE_URL, so it starts its own PostgreSQL in the data folder;
 * `herald project create` works with and without a server on the same folder; SIGTERM stops
 * everything, the embedded PostgreSQL included; data survives a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { freePort, spawnHerald, testStreamPrefix } from '../support/process.js';
import { deleteStreams } from '../support/jetstream/nats.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

async function projectCreate(dataDir: string, name: string) {
  const { stdout } = await run(process.execPath, [cli, 'project', 'create', '--name', name, '--data-dir', dataDir],
    { env: { ...process.env, DATABASE_URL: '' } });
  return JSON.parse(stdout) as { project_id: string; rest_key: string; sdk_key: string };
}

function postgresPid(dataDir: string): Promise<number | undefined> {
  return readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').then((t) => Number(t.split('\n')[0]), () => undefined);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('embedded mode: create a project offline and online, send, stop on SIGTERM, restart with the data', { timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-embedded-'));
  await chmod(dataDir, 0o755);
  try {
    // No server running: the command starts the embedded PostgreSQL itself, then stops it.
    const offline = await projectCreate(dataDir, 'offline');
    assert.match(offline.rest_key, /^hrld_rest_/);
    assert.match(offline.sdk_key, /^hrld_sdk_/);
    assert.equal(await postgresPid(dataDir), undefined, 'the command stopped the PostgreSQL it started');

    const port = await freePort();
    const env = { DATABASE_URL: '' };
    let herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir], env);
    const pgPid = await postgresPid(dataDir);
    assert.ok(pgPid && alive(pgPid), 'the embedded PostgreSQL runs');

    // A server is running on this folder: the command uses its PostgreSQL and leaves it running.
    const online = await projectCreate(dataDir, 'online');
    assert.ok(alive(pgPid!));
    for (const key of [offline.rest_key, online.rest_key]) {
      const r = await fetch(`${herald.url}/v1/transactional/send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ group_id: 'g', recipients: { custom_ids: ['nobody'] }, push: { title: 't', body: 'b' } }),
      });
      assert.equal(r.status, 202);
    }

    assert.equal(await herald.stop(), 0, 'SIGTERM is a clean exit');
    assert.ok(!alive(pgPid!), 'the embedded PostgreSQL stopped with Herald');

    herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir], env);
    const r = await fetch(`${herald.url}/v1/transactional/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${online.rest_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ group_id: 'g', recipients: { custom_ids: ['x'] }, push: { title: 't', body: 'b' } }),
    });
    assert.equal(r.status, 202, 'keys created before the restart still work');
    assert.equal(await herald.stop(), 0);
    assert.ok(existsSync(join(dataDir, 'postgres', 'PG_VERSION')));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
