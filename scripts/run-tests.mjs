// Runs the whole suite with node's test runner on the compiled tests (dist/).
// Without HERALD_TEST_DATABASE_URL it starts one embedded PostgreSQL for the run and points every
// test at it; with it, tests create their databases on that server.
import { spawn } from 'node:child_process';
import { mkdtemp, chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const roots = ['dist/src', 'dist/test'];
const only = process.argv.slice(2);

async function findTests(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findTests(p)));
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = (await Promise.all(roots.map(findTests))).flat().sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));

const env = { ...process.env };
let stopDb = async () => {};
if (!env.HERALD_TEST_DATABASE_URL) {
  const { startEmbeddedPostgres } = await import('../dist/src/store/embedded.js');
  const { silentLogger } = await import('../dist/src/observability/logger.js');
  const dir = await mkdtemp(join(tmpdir(), 'herald-test-pg-'));
  await chmod(dir, 0o755);
  const db = await startEmbeddedPostgres(dir, silentLogger());
  env.HERALD_TEST_DATABASE_URL = db.url;
  stopDb = db.stop;
  console.log(`# tests use an embedded PostgreSQL (set HERALD_TEST_DATABASE_URL to use another server)`);
} else {
  console.log(`# tests use the PostgreSQL at HERALD_TEST_DATABASE_URL`);
}

const child = spawn(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files], {
  stdio: 'inherit',
  env,
});
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stopDb();
process.exit(code);
