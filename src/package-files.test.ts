import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { packageRoot } from './paths.js';

test('what Herald ships (package.json "files") holds no test and no test helper, and holds what `herald start` needs', async () => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: packageRoot, maxBuffer: 16 << 20 });
  const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.deepEqual(files.filter((f) => /\.test\.|(^|\/)test\/|support|testing/.test(f)), []);
  for (const needed of ['dist/src/cli/main.js', 'dist/src/server.js', 'src/store/migrations/0001_projects_installations_messages.sql', 'sdk/web/dist/herald.js', 'sdk/web/dist/herald-in-app.js', 'cli/herald.js']) {
    assert.ok(files.includes(needed), needed);
  }
});
