/**
 * Herald as a user gets it: `npm pack` of this repository, installed into an empty folder with
 * production dependencies only, then `npx herald project create` and `npx herald start --sandbox`
 * on a fresh data folder (its own embedded PostgreSQL), probed over HTTP and stopped with SIGTERM.
 * It needs the npm registry for the dependencies (from npm's cache when it has them): skipped, and
 * says why, only when the registry does not answer, and never under CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../src/paths.js';
import { eventually } from './support/eventually.js';

const run = promisify(execFile);

/** The environment of a fresh machine: none of the suite's database, NATS or npm script settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|HERALD_|DATABASE_URL$|NATS_URL$|INIT_CWD$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, HERALD_LOG_LEVEL: 'warn' };
}

async function registryAnswers(): Promise<string | undefined> {
  try {
    await run('npm', ['ping'], { env: cleanEnv(), timeout: 20_000 });
    return undefined;
  } catch (err) {
    return `the npm registry does not answer (npm ping: ${(err as Error).message.split('\n')[0]})`;
  }
}

/** The process under `pid` (children, recursively, from /proc) whose command line matches. */
async function descendant(pid: number, cmdline: RegExp): Promise<number> {
  const children = async (p: number): Promise<number[]> =>
    (await readFile(`/proc/${p}/task/${p}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number);
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    if (cmdline.test(await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => ''))) return p;
    queue.push(...(await children(p)));
  }
  throw new Error(`no process under ${pid} runs ${cmdline}`);
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

test('the packed package installs with production dependencies only, and `npx herald` creates a project, serves the API and the dashboard, and stops cleanly on SIGTERM', { timeout: 600_000 }, async (t) => {
  const unreachable = await registryAnswers();
  if (unreachable && process.env.CI !== 'true') {
    t.skip(unreachable);
    return;
  }
  assert.equal(unreachable, undefined, 'under CI the registry must answer');

  const work = await mkdtemp(join(tmpdir(), 'herald-package-'));
  // Run as root, the embedded PostgreSQL runs as the postgres user, who must pass through here.
  await chmod(work, 0o755);
  t.after(() => rm(work, { recursive: true, force: true }));
  const started = performance.now();

  // The suite runs from dist/, already built: --ignore-scripts keeps `prepare` from rebuilding it
  // under the tests that are running.
  const { stdout: packed } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {
    cwd: packageRoot, env: cleanEnv(), maxBuffer: 16 << 20,
  });
  const pack = (JSON.parse(packed) as { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] }[])[0]!;
  const files = pack.files.map((f) => f.path);
  t.diagnostic(`${pack.filename}: ${kib(pack.size)} packed, ${kib(pack.unpackedSize)} unpacked, ${pack.entryCount} files`);
  assert.deepEqual(files.filter((f) => /\.test\.js$/.test(f)), [], 'no compiled test');
  assert.deepEqual(files.filter((f) => /(^|\/)bench(\/|$)|bench\.|scripts\//.test(f)), [], 'no benchmark or repository script');
  assert.deepEqual(files.filter((f) => /\.map$/.test(f)), [], 'no source map (the TypeScript sources are not shipped)');
  assert.deepEqual(files.filter((f) => /(^|\/)sizes\.json$/.test(f)), [], 'no build report');
  assert.deepEqual(files.filter((f) => /^(test|dist\/test)\//.test(f)), [], 'no test folder');

  const app = join(work, 'app');
  await run('mkdir', ['-p', app]);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'herald-install-check', private: true }) + '\n');
  const install = performance.now();
  await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(work, pack.filename)], {
    cwd: app, env: cleanEnv(), timeout: 480_000, maxBuffer: 16 << 20,
  });
  t.diagnostic(`npm install --omit=dev of the tarball: ${((performance.now() - install) / 1000).toFixed(1)} s`);
  const { stdout: tree } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: app, env: cleanEnv(), maxBuffer: 16 << 20 });
  assert.ok(!/\/node_modules\/(typescript|eslint|esbuild|playwright-core|bullmq)$/m.test(tree), 'no development dependency installed');

  const dataDir = join(work, 'data');
  const { stdout: created } = await run('npx', ['--no', 'herald', 'project', 'create', '--name', 'x', '--data-dir', dataDir], {
    cwd: app, env: cleanEnv(), timeout: 120_000,
  });
  const project = JSON.parse(created) as { project_id: string; rest_key: string };
  assert.match(project.project_id, /^[0-9a-f-]{36}$/);
  assert.match(project.rest_key, /^hrld_rest_/);

  // detached: its own process group, so a failure below can stop npx and the server under it.
  const server = spawn('npx', ['--no', 'herald', 'start', '--sandbox', '--port', '0', '--sandbox-port', '0', '--data-dir', dataDir], {
    cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let output = '';
  server.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  server.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
  t.after(() => { if (server.exitCode === null) try { process.kill(-server.pid!, 'SIGKILL'); } catch { /* gone already */ } });

  const url = await eventually(() => {
    if (server.exitCode !== null) throw new Error(`herald start exited with ${server.exitCode}:\n${output}`);
    return /Herald is listening on (http:\/\/\S+) /.exec(output)?.[1];
  }, 120_000, `herald start to listen:\n${output}`);

  const health = await fetch(url + '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const ready = await fetch(url + '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(((await ready.json()) as { status: string }).status, 'ready');
  const openapi = await fetch(url + '/openapi.json');
  assert.equal(openapi.status, 200);
  assert.match(((await openapi.json()) as { openapi: string }).openapi, /^3\.1/);
  const dashboard = await fetch(url + '/');
  assert.equal(dashboard.status, 200);
  assert.match(dashboard.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await dashboard.text(), /<html|<!doctype html/i);
  const key = await fetch(url + '/v1/providers', { headers: { authorization: `Bearer ${project.rest_key}` } });
  assert.equal(key.status, 200, 'the key project create printed works on the server');

  assert.doesNotMatch(output, /"level":(50|60)/, 'no error logged while serving those');

  // SIGTERM to the Herald process itself, as a service manager sends it (npx runs it under a shell,
  // which would die of a signal sent to it instead of passing it on): Herald exits 0, and so npx.
  const herald = await descendant(server.pid!, /\/herald\0start\0/);
  process.kill(herald, 'SIGTERM');
  assert.equal(await exited, 0, `a clean exit after SIGTERM:\n${output}`);
  await assert.rejects(fetch(url + '/healthz'), 'the server stopped listening');
  t.diagnostic(`pack, install, create, start and stop: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
