/** `herald export` against a real Herald: asks for the export, follows it, streams the file through its signed link. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { startTestHerald } from '../../test/support/herald.js';

const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

function herald(args: string[], env: Record<string, string>, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

test('herald export writes a project\'s profiles to a file, and to standard output, following the export to its end', async () => {
  const h = await startTestHerald();
  const dir = await mkdtemp(join(tmpdir(), 'herald-export-'));
  try {
    await h.db.sql`
      insert into profiles (project_id, custom_id, attributes)
      select ${h.project.project_id}, 'p' || lpad(i::text, 5, '0'), jsonb_build_object('plan', case when i % 2 = 0 then 'gold' else 'free' end)
      from generate_series(1, 12000) i`;
    const env = { HERALD_API_KEY: h.project.rest_key };
    const out = join(dir, 'gold.csv');
    const a = await herald(['export', 'profiles', '--url', h.url, '--attributes', 'plan', '--out', out], env);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stderr, /^export [0-9a-f-]{36}: done, 12000 of 12000 rows \(100%\)$/m, 'plain progress lines: stderr is not a terminal');
    assert.match(a.stderr, /^12000 rows written to .*gold\.csv$/m);
    const lines = (await readFile(out, 'utf8')).split('\r\n');
    assert.equal(lines.length, 12002);
    assert.match(lines[0]!, /^custom_id,.*,attributes\.plan$/);
    assert.match(lines[2]!, /^p00002,.*,gold$/);

    // The name Herald gives the file, in the current folder; or standard output with --out -.
    const b = await herald(['export', 'events', '--url', h.url, '--format', 'ndjson'], env, dir);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stderr, /0 rows written to herald-events-[0-9a-f-]{36}\.ndjson$/m);
    const c = await herald(['export', 'profiles', '--url', h.url, '--format', 'ndjson', '--attributes', 'plan', '--out', '-'], env);
    assert.equal(c.code, 0, c.stderr);
    const rows = c.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, 12000);
    assert.deepEqual(rows[0].attributes, { plan: 'free' });

    const bad = await herald(['export', 'segment_members', '--url', h.url], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /answered 400: invalid_export: body\.segment_id is required/);
    const format = await herald(['export', 'profiles', '--url', h.url, '--format', 'xml'], env);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format must be csv or ndjson/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await h.close();
  }
});
