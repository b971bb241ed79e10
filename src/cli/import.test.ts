/** `herald import profiles|audience` against a real Herald: uploads, follows the job, reports failing lines. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { startTestHerald } from '../../test/support/herald.js';
import { csvProfileReader, progressBar, progressLine } from '../domain/import-progress.js';

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

function herald(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

test('progress: a bar on a terminal, a plain line elsewhere; a CSV record becomes an operation', () => {
  const p = { state: 'running' as const, total_lines: 200, processed_lines: 50, failed_lines: 1 };
  assert.equal(progressBar(p, 10), '[##--------]  25% 50/200 lines, 1 failed (running)');
  assert.equal(progressLine('j', p), 'job j: running, 50 of 200 lines (25%), 1 failed');
  const read = csvProfileReader('plan,custom_id,"$email"');
  assert.equal(read('gold,u1,a@example.com', 2), '{"identifiers":{"custom_id":"u1"},"attributes":{"plan":"gold","$email":"a@example.com"}}');
  assert.equal(read(',u2,', 3), '{"identifiers":{"custom_id":"u2"},"attributes":{}}');
  assert.throws(() => read('a,b', 4), /line 4: 2 fields, the header names 3/);
  assert.throws(() => csvProfileReader('id,plan'), /no custom_id column/);
});

test('herald import profiles (NDJSON and CSV) and herald import audience, through the API of a running Herald', async () => {
  const h = await startTestHerald();
  const dir = await mkdtemp(join(tmpdir(), 'herald-import-'));
  try {
    const env = { HERALD_API_KEY: h.project.rest_key };
    const ndjson = join(dir, 'profiles.ndjson');
    const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ identifiers: { custom_id: `n${i}` }, attributes: { plan: 'gold' } }));
    lines.splice(7, 0, JSON.stringify({ identifiers: { custom_id: 'bad' }, attributes: { $email: 'not an email' } }));
    await writeFile(ndjson, lines.join('\n') + '\n');
    const a = await herald(['import', 'profiles', ndjson, '--url', h.url], env);
    assert.equal(a.code, 1, 'a line failed: exit 1\n' + a.stdout + a.stderr);
    assert.match(a.stdout, /^uploaded 121 lines: job [0-9a-f-]{36}$/m);
    assert.match(a.stdout, /^job [0-9a-f-]{36}: done, 121 of 121 lines \(100%\), 1 failed$/m, 'plain lines: stdout is not a terminal');
    assert.match(a.stdout, /^line 8 \(attributes\.\$email\): must be an email address$/m);
    assert.equal((await h.call('GET', '/v1/profiles/n119')).body.profile.attributes.plan, 'gold');

    const csv = join(dir, 'profiles.csv');
    await writeFile(csv, 'custom_id,plan\r\nc1,silver\r\n"c,2",bronze\r\n');
    const b = await herald(['import', 'profiles', csv, '--url', h.url], env);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /done, 2 of 2 lines \(100%\), 0 failed/);
    assert.equal((await h.call('GET', '/v1/profiles/' + encodeURIComponent('c,2'))).body.profile.attributes.plan, 'bronze');

    const ids = join(dir, 'vip.csv');
    await writeFile(ids, 'custom_id\n' + Array.from({ length: 30 }, (_, i) => `n${i}`).join('\n') + '\n');
    const c = await herald(['import', 'audience', 'vip', ids, '--url', h.url], env);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /^created audience ([0-9a-f-]{36}) \(vip\); uploaded 30 ids \(add\): job /m);
    const id = /created audience ([0-9a-f-]{36})/.exec(c.stdout)![1]!;
    assert.match(c.stdout, /: done, /);
    const again = await herald(['import', 'audience', 'vip', ids, '--url', h.url, '--mode', 'replace'], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, new RegExp(`^found audience ${id} \\(vip\\); uploaded 30 ids \\(replace\\)`, 'm'));
    const { eventually } = await import('../../test/support/eventually.js');
    await eventually(async () => (await h.call('GET', `/v1/audiences/${id}`)).body.member_count === 30, 15_000, 'the members applied');

    const noKey = await herald(['import', 'profiles', csv, '--url', h.url], { HERALD_API_KEY: '' });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /HERALD_API_KEY/);
    const wrongKey = await herald(['import', 'profiles', csv, '--url', h.url], { HERALD_API_KEY: 'hrld_rest_nope' });
    assert.notEqual(wrongKey.code, 0);
    assert.match(wrongKey.stderr, /answered 401/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await h.close();
  }
});
