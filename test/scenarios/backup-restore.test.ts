/**
 * The backup story of the default setup: `herald backup` while `herald start` runs on an embedded
 * data folder, `herald restore` into a new data folder (refused without the master key, then done
 * with it), and `herald start` there serves the same data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { freePort, spawnHerald, testStreamPrefix, type HeraldProcess } from '../support/process.js';
import { deleteStreams } from '../support/jetstream/nats.js';

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');
// The embedded store, and the master key of each data folder (never one from the environment).
const { HERALD_MASTER_KEY: _fromEnvironment, ...inherited } = process.env;
const embeddedEnv = { ...inherited, DATABASE_URL: '' };

/** Runs `herald ARGS`; resolves with its exit code and output, whatever the code. */
async function herald(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { env: embeddedEnv });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function call(h: HeraldProcess, key: string, method: string, path: string, body?: unknown) {
  const r = await fetch(h.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json() as any };
}

test('embedded: back up a running Herald, restore into a new data folder with the master key, start on it', { timeout: 180_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'herald-backup-'));
  await chmod(root, 0o755);
  const [a, b, file] = [join(root, 'a'), join(root, 'b'), join(root, 'herald.backup.gz')];
  const env = { DATABASE_URL: '' };
  let running: HeraldProcess | undefined;
  try {
    running = await spawnHerald(['--port', String(await freePort()), '--data-dir', a], env);
    const created = await herald(['project', 'create', '--name', 'kept', '--data-dir', a]);
    assert.equal(created.code, 0, created.stderr);
    const { rest_key: key } = JSON.parse(created.stdout) as { rest_key: string };
    assert.equal((await call(running, key, 'PUT', '/v1/profiles/alice', { email: 'alice@example.com' })).status, 200);
    const sent = await call(running, key, 'POST', '/v1/transactional/send',
      { group_id: 'welcome', recipients: { custom_ids: ['alice'] }, push: { title: 't', body: 'b' } });
    assert.equal(sent.status, 202);

    const backup = await herald(['backup', file, '--data-dir', a]);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stderr, /master key is not in it/);
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'the backup is private to its owner');
    assert.equal(await running.stop(), 0);
    running = undefined;

    const refused = await herald(['restore', file, '--data-dir', b]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /sealed with a master key, which a backup never contains/);
    assert.ok(!existsSync(join(b, 'postgres')), 'nothing was created for a refused restore');

    await mkdir(b);
    await copyFile(join(a, 'master.key'), join(b, 'master.key'));
    await chmod(join(b, 'master.key'), 0o600);
    const restored = await herald(['restore', file, '--data-dir', b]);
    assert.equal(restored.code, 0, restored.stderr);

    running = await spawnHerald(['--port', String(await freePort()), '--data-dir', b], env);
    const profile = await call(running, key, 'GET', '/v1/profiles/alice');
    assert.equal(profile.status, 200, 'the API key came along');
    assert.equal(profile.body.profile.email, 'alice@example.com');
    const message = await call(running, key, 'GET', `/v1/messages/${sent.body.message_id}`);
    assert.equal(message.status, 200);
    assert.equal(message.body.group_id, 'welcome');

    const again = await herald(['restore', file, '--data-dir', b]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /not empty/);
  } finally {
    await running?.stop();
    await rm(root, { recursive: true, force: true });
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
