/**
 * A full disk under the embedded PostgreSQL: Herald's data folder on a small tmpfs this test mounts
 * (so it needs root, as CI has), filled up while clients send. The API answers 503 with
 * Retry-After (never a 500, never a 2xx it could not keep); once space is freed the same clients'
 * retries are accepted, and every accepted message is delivered exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, statfs } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { freePort, spawnHerald } from '../support/process.js';
import { eventually } from '../support/eventually.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');
const isRoot = userInfo().uid === 0;

test('disk full: 503 with Retry-After while the disk is full, nothing acknowledged is lost, service resumes once space is freed',
  { timeout: 180_000, skip: !isRoot && 'mounting a tmpfs needs root' }, async () => {
    const mount = await mkdtemp(join(tmpdir(), 'herald-diskfull-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=160m,mode=755', 'tmpfs', mount]);
    const dataDir = join(mount, 'herald');
    const [port, sandboxPort] = [await freePort(), await freePort()];
    let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
    try {
      herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir, '--sandbox', '--sandbox-port', String(sandboxPort)],
        { DATABASE_URL: '' });
      const { stdout } = await run(process.execPath, [cli, 'project', 'create', '--name', 'full', '--data-dir', dataDir],
        { env: { ...process.env, DATABASE_URL: '' } });
      const { rest_key } = JSON.parse(stdout) as { rest_key: string };
      const send = (n: number) => fetch(`${herald!.url}/v1/transactional/send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${rest_key}`, 'content-type': 'application/json', 'idempotency-key': `send-${n}` },
        body: JSON.stringify({ group_id: 'g', recipients: { emails: [`r${n}@example.com`] }, email: { subject: `n${n}`, text: 'x'.repeat(4000) } }),
      }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() as { message_id?: string; error?: { code: string } } }));

      const accepted = new Map<number, string>();
      const answers: number[] = [];
      let n = 0;
      const round = async (count: number) => {
        for (let i = 0; i < count; i++, n++) {
          const r = await send(n);
          answers.push(r.status);
          if (r.status === 202) accepted.set(n, r.body.message_id!);
          else {
            assert.equal(r.status, 503, JSON.stringify(r.body));
            assert.equal(r.body.error?.code, 'database_unavailable');
            assert.ok(r.retryAfter, 'a 503 says when to retry');
          }
        }
      };
      await round(20);
      assert.equal(accepted.size, 20, 'with space, every send is accepted');

      // Fill the disk: one big file, then what is left in small ones.
      const { bavail, bsize } = await statfs(mount);
      await writeFile(join(mount, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 64 * 1024)));
      for (let i = 0; ; i++) {
        try { await writeFile(join(mount, `filler-${i}`), Buffer.alloc(8 * 1024)); } catch { break; }
      }
      const before = n;
      // Sends go on until the database has nothing left to write into (its free pages run out).
      await eventually(async () => {
        await round(5);
        return answers.slice(before).some((s) => s === 503);
      }, 60_000, 'a 503 once the disk is full');
      assert.ok(!answers.includes(500), `no 500: ${answers.join(' ')}`);

      // Space is freed: the sends that got 503 are retried with their keys and accepted.
      await rm(join(mount, 'filler'));
      const refused = [...Array(n).keys()].filter((i) => !accepted.has(i));
      await eventually(async () => {
        for (const i of refused.filter((i) => !accepted.has(i))) {
          const r = await send(i);
          if (r.status === 202) accepted.set(i, r.body.message_id!);
        }
        return accepted.size === n;
      }, 60_000, 'every refused send accepted once space is back');

      // Every acknowledged message was delivered exactly once.
      const delivered = await eventually(async () => {
        const res = await fetch(`http://127.0.0.1:${sandboxPort}/_sandbox/deliveries?channel=email`);
        const list = (await res.json()) as { target: string }[];
        return list.length >= n ? list : undefined;
      }, 60_000, 'every accepted message delivered');
      const targets = delivered.map((d) => d.target).sort();
      assert.deepEqual(targets, [...Array(n).keys()].map((i) => `r${i}@example.com`).sort(), 'each once');
    } finally {
      await herald?.stop().catch(() => undefined);
      await run('umount', ['-l', mount]).catch(() => undefined);
      await rm(mount, { recursive: true, force: true });
    }
  });
