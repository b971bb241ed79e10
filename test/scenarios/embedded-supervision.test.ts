/**
 * Herald supervises its embedded PostgreSQL. While clients send 2,000 messages with idempotency
 * keys (retrying every error and 503 until they get a 202), the embedded postmaster is killed with
 * kill -9 three times, as the OOM killer would. Herald restarts it each time (PostgreSQL replays its
 * WAL), the API answers 503 meanwhile and resumes by itself, and the Herald process itself is never
 * restarted. Afterwards every accepted message reached the simulator under one apns-id, and none of
 * the retried calls made a second message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { freePort, spawnHerald, testStreamPrefix } from '../support/process.js';
import { deleteStreams } from '../support/jetstream/nats.js';
import { eventually } from '../support/herald.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { silentLogger } from '../../src/observability/logger.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');
const messages = 2_000;
const clientConcurrency = 16;
const kills = 3;

function postmasterPid(dataDir: string): Promise<number | undefined> {
  return readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').then((t) => Number(t.split('\n')[0]) || undefined, () => undefined);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('kill -9 of the embedded PostgreSQL: Herald restarts it, loses nothing and shows nothing twice', { timeout: 240_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-supervise-'));
  await chmod(dataDir, 0o755);
  const sandbox = await startSandbox({ port: 0, log: silentLogger() });
  const port = await freePort();
  const env = { DATABASE_URL: '' };
  const herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir, '--sandbox-url', sandbox.inspectionUrl], env);
  try {
    const { stdout } = await run(process.execPath, [cli, 'project', 'create', '--name', 'supervise', '--data-dir', dataDir], { env: { ...process.env, ...env } });
    const project = JSON.parse(stdout) as { rest_key: string };

    const tokenOf = (i: number) => i.toString(16).padStart(64, '0');
    const accepted = new Map<number, string>();
    let unavailable = 0;
    let failedCalls = 0;
    const sendOne = async (i: number): Promise<void> => {
      const body = JSON.stringify({
        group_id: 'supervise',
        recipients: { tokens: [{ platform: 'ios', token: tokenOf(i) }] },
        push: { title: 'n' + i, body: 'postmaster killed' },
      });
      for (;;) {
        try {
          const res = await fetch(herald.url + '/v1/transactional/send', {
            method: 'POST',
            headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/json', 'idempotency-key': 's' + i },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          const answer = (await res.json()) as { message_id?: string; error?: { code: string } };
          if (res.status === 202 && answer.message_id) {
            const before = accepted.get(i);
            assert.ok(!before || before === answer.message_id, `key s${i} answered two message ids`);
            accepted.set(i, answer.message_id);
            return;
          }
          if (res.status === 503) {
            assert.equal(answer.error?.code, 'database_unavailable');
            assert.ok(res.headers.get('retry-after'), 'a 503 says when to retry');
            unavailable++;
          } else {
            failedCalls++;
          }
        } catch {
          failedCalls++;
        }
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    };

    let next = 0;
    const client = Promise.all(Array.from({ length: clientConcurrency }, async () => {
      while (next < messages) await sendOne(next++);
    }));
    const killer = (async () => {
      for (let k = 0; k < kills; k++) {
        // Wait until a good share of the sends are in, spread over the run.
        await eventually(async () => (accepted.size >= ((k + 1) * messages) / (kills + 2) ? true : undefined), 60_000, `sends before kill ${k + 1}`);
        const pid = await postmasterPid(dataDir);
        assert.ok(pid && alive(pid), 'the embedded postmaster runs');
        process.kill(pid!, 'SIGKILL');
        // The positive signal: a new postmaster, and the API ready again, with the same Herald process.
        await eventually(async () => {
          const now = await postmasterPid(dataDir);
          if (!now || now === pid || !alive(now)) return undefined;
          const ready = await fetch(herald.url + '/readyz', { signal: AbortSignal.timeout(1_000) });
          return ready.status === 200 ? true : undefined;
        }, 60_000, `the embedded PostgreSQL restarted after kill ${k + 1}`).catch((err: Error) => {
          throw new Error(`${err.message}\nlast Herald output:\n${herald.output().slice(-3000)}`);
        });
      }
    })();
    await Promise.all([client, killer]);
    assert.equal(herald.child.exitCode, null, 'the Herald process was never restarted');

    await eventually(async () => {
      const res = await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=apns&limit=10000`);
      const records = (await res.json()) as { target: string }[];
      return new Set(records.map((r) => r.target)).size >= messages ? true : undefined;
    }, 120_000, `all ${messages} messages delivered`);

    const res = await fetch(`${sandbox.inspectionUrl}/_sandbox/deliveries?channel=apns&limit=10000`);
    const records = (await res.json()) as { target: string; headers: Record<string, string> }[];
    const apnsIds = new Map<string, Set<string>>();
    for (const r of records) apnsIds.set(r.target, (apnsIds.get(r.target) ?? new Set()).add(r.headers['apns-id']!));
    for (let i = 0; i < messages; i++) {
      const ids = apnsIds.get(tokenOf(i));
      assert.ok(ids, `message ${i} (accepted as ${accepted.get(i)}) never reached the simulator`);
      assert.equal(ids.size, 1, `message ${i} was delivered as ${ids.size} different notifications`);
    }
    assert.equal(apnsIds.size, messages, 'nothing unexpected reached the simulator: no retried call made a second message');

    const metrics = await (await fetch(herald.url + '/metrics')).text();
    assert.match(metrics, new RegExp(`herald_embedded_postgres_restarts_total ${kills}\\b`));
    assert.equal(herald.child.exitCode, null, 'the Herald process was never restarted');
    t.diagnostic(`${kills} postmaster kills, ${unavailable} answers 503, ${failedCalls} other failed calls, ` +
      `${records.length - messages} re-sends under the same apns-id`);
  } finally {
    // Bounded: a Herald that cannot stop is killed, and the test says so above.
    const stopped = await Promise.race([herald.stop(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    if (stopped === 'hung') await herald.kill9();
    await sandbox.close();
    await rm(dataDir, { recursive: true, force: true });
    if (process.env.NATS_URL) await deleteStreams(process.env.NATS_URL, testStreamPrefix);
  }
});
