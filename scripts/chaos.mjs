// Runs the chaos suite (test/chaos/): the seed platform's incident replayed against a 3-node NATS
// cluster, PostgreSQL, 2 API and 2 worker processes and the sandbox. Exits non-zero on any loss,
// duplicate or unexpected delivery (the compiled incident.js decides and prints the report).
//
// It needs the `nats-server` binary and a PostgreSQL server (HERALD_TEST_DATABASE_URL, default
// postgres://postgres@127.0.0.1:5432/postgres). Where either is missing it says why and exits 0,
// except under CI, where a skipped chaos suite would be a silent pass: there it fails.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import postgres from 'postgres';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ci = Boolean(process.env.CI);
const serverUrl = process.env.HERALD_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

function skip(reason) {
  if (ci) {
    console.error(`chaos: CI must run the chaos suite, but ${reason}`);
    process.exit(1);
  }
  console.log(`chaos: skipped: ${reason}`);
  process.exit(0);
}

const natsServer = await new Promise((resolve) => {
  const p = spawn('nats-server', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.once('error', () => resolve(undefined));
  p.once('exit', (code) => resolve(code === 0 ? out.trim() : undefined));
});
if (!natsServer) skip('no nats-server on PATH (install nats-server, v2.9.10 or later)');

const pg = postgres(serverUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
const pgProblem = await pg`select 1`.then(() => undefined, (err) => err.message);
await pg.end({ timeout: 1 });
if (pgProblem) skip(`no PostgreSQL at ${serverUrl.replace(/\/\/[^@]*@/, '//…@')} (${pgProblem}); set HERALD_TEST_DATABASE_URL`);

const incident = join(root, 'dist', 'test', 'chaos', 'incident.js');
if (!existsSync(incident)) {
  console.error(`chaos: ${incident} is missing: run npm run build first`);
  process.exit(1);
}
console.log(`chaos: ${natsServer}; PostgreSQL answers; running ${incident}`);
const child = spawn(process.execPath, ['--enable-source-maps', incident], { stdio: 'inherit', cwd: root });
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
process.exit(code);
