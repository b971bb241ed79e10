/**
 * `npm run bench -- ingest`: how fast Herald takes in data, each figure beside a no-op route on the
 * same HTTP stack measured in the same run, on Herald in embedded mode (role api, its own PostgreSQL).
 *
 *  - SDK events accepted durably per second, in batches of 50 (POST /v1/sdk/events; every event has
 *    its own client id, so each one is claimed and stored); target ≥ 50,000 events/s.
 *  - Profile updates per second, in calls of 50 operations on random profiles (POST /v1/profiles/update).
 *
 * Rate limits are raised for the run so they do not cap what is measured.
 * Options: --seconds N (10) --connections N (32) --batch N (50)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { packageRoot } from '../src/paths.js';
import { freePort, peakRssMiB, spawnHerald } from './support/processes.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    batch: { type: 'string', default: '50' },
  },
});
const load = { connections: Number(values.connections), duration: Number(values.seconds) };
const batch = Number(values.batch);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

const eventsBody = () => JSON.stringify({
  install_id: 'bench-install',
  events: Array.from({ length: batch }, () => ({ id: randomUUID(), name: 'page_view', time: new Date().toISOString(), attributes: { path: '/home' } })),
});
const updateBody = () => JSON.stringify(Array.from({ length: batch }, () => ({
  identifiers: { custom_id: 'u' + Math.floor(Math.random() * 1_000_000) },
  attributes: { plan: 'pro', visits: Math.floor(Math.random() * 100), tags: { $add: ['bench'] } },
})));

async function keys(dataDir: string): Promise<{ rest_key: string; sdk_key: string }> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'project', 'create', '--name', 'bench', '--data-dir', dataDir],
    { env: { ...process.env, DATABASE_URL: '' } });
  return JSON.parse(stdout) as { rest_key: string; sdk_key: string };
}

async function run(url: string, auth: string | undefined, body: () => string) {
  return autocannon({
    url, method: 'POST', ...load,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
    requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: body() }) }],
  });
}

const rows: Row[] = [];
const noopPort = await freePort();
const noop = spawn(process.execPath, [join(packageRoot, 'dist', 'bench', 'noop-server.js'), String(noopPort)], { stdio: 'inherit' });
for (let i = 0; !(await fetch(`http://127.0.0.1:${noopPort}/noop`, { method: 'POST' }).then(() => true, () => false)); i++) {
  if (i > 200) throw new Error('the no-op server did not start');
  await new Promise((r) => setTimeout(r, 50));
}
const base = await run(`http://127.0.0.1:${noopPort}/noop`, undefined, eventsBody);
rows.push({ phase: `no-op route, same HTTP stack, ${batch}-event bodies`, 'req/s': base.requests.average, 'items/s': base.requests.average * batch,
  'p50 ms': base.latency.p50, 'p99 ms': base.latency.p99, 'peak RSS MiB': await peakRssMiB(noop.pid!) });
noop.kill('SIGTERM');

const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const port = await freePort();
const herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir, '--role', 'api'], {
  DATABASE_URL: '', HERALD_RATE_SDK_EVENTS: '10000000', HERALD_RATE_PROFILE_OPERATIONS: '10000000',
});
try {
  const { rest_key, sdk_key } = await keys(dataDir);
  for (const [phase, path, key, body] of [
    [`POST /v1/sdk/events, ${batch} per batch (durable)`, '/v1/sdk/events', sdk_key, eventsBody],
    [`POST /v1/profiles/update, ${batch} operations per call`, '/v1/profiles/update', rest_key, updateBody],
  ] as const) {
    const r = await run(herald.url + path, key, body);
    const failed = r.non2xx + r.errors + r.timeouts;
    rows.push({
      phase, 'req/s': r.requests.average, 'items/s': r.requests.average * batch, 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99,
      ratio: `${((r.requests.average / base.requests.average) * 100).toFixed(0)}% of no-op`,
      'peak RSS MiB': await peakRssMiB(herald.child.pid!), note: failed ? `${failed} non-2xx/errors` : '',
    });
  }
} finally {
  await herald.stop();
  await rm(dataDir, { recursive: true, force: true });
}
printTable(rows);
console.log(`target: ≥ 50,000 SDK events/s; saved to ${await saveResult('ingest', rows)}`);
