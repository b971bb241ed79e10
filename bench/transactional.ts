/**
 * `npm run bench -- transactional`: the foundation's benchmark, every figure beside its baseline
 * from the same run, on Herald in embedded mode (its own PostgreSQL), the real CLI processes and the
 * sandbox's APNs simulator in its own process.
 *
 *  (a) durable accepts: Herald's send endpoint (role api) vs a no-op route on the same HTTP stack,
 *      under the same autocannon load.
 *  (b) end to end: 100 sends of 1,000 recipients through API → PostgreSQL → queue → worker → APNs
 *      simulator; deliveries/s and accept→delivered latency; then the same pipeline paced at half
 *      that rate for its latency.
 *  (c) the simulator's ceiling driven directly by Herald's HTTP/2 sender, and by @parse/node-apn
 *      (as bench/channels.ts drives them: bench/support/herald-senders.ts, library-senders.ts).
 *
 * Options: --recipients N (1000) --sends N (100) --ceiling-pushes N (50000) --accept-seconds N (10)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { packageRoot } from '../src/paths.js';
import { linkSandbox } from '../src/sandbox-link.js';
import { createProjectKeys, descendants, freePort, peakRssMiB, spawnHerald, spawnSandbox, type SandboxProcess } from './support/processes.js';
import { pool } from './support/stats.js';
import { clearDeliveries, latencies, waitForDeliveries } from './support/sandbox-records.js';
import { benchPush, newToken, sendBody } from './support/workload.js';
import { heraldSender } from './support/herald-senders.js';
import { librarySender } from './support/library-senders.js';
import { ceilingWith } from './support/ceiling.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    recipients: { type: 'string', default: '1000' },
    sends: { type: 'string', default: '100' },
    'ceiling-pushes': { type: 'string', default: '50000' },
    'accept-seconds': { type: 'string', default: '10' },
  },
});
const recipients = Number(values.recipients);
const sends = Number(values.sends);
const ceilingPushes = Number(values['ceiling-pushes']);
const acceptSeconds = Number(values['accept-seconds']);

const push = benchPush;

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
  await chmod(dir, 0o755); // the embedded PostgreSQL may run as another user when we are root
  return dir;
}

async function postgresPeakMiB(heraldPid: number): Promise<number | undefined> {
  const peaks = await Promise.all((await descendants(heraldPid)).map(peakRssMiB));
  const known = peaks.filter((p): p is number => p !== undefined);
  return known.length ? Math.max(...known) : undefined;
}

// ---- (a) durable accepts vs a no-op route ------------------------------------------------------

async function acceptPhase(): Promise<Row[]> {
  const load = { connections: 32, duration: acceptSeconds };
  const noopPort = await freePort();
  const noop = spawn(process.execPath, [join(packageRoot, 'dist', 'bench', 'noop-server.js'), String(noopPort)], { stdio: 'inherit' });
  for (let i = 0; !(await fetch(`http://127.0.0.1:${noopPort}/noop`, { method: 'POST' }).then(() => true, () => false)); i++) {
    if (i > 200) throw new Error('the no-op server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const body = JSON.stringify({ group_id: 'bench', recipients: { tokens: [{ platform: 'ios', token: newToken() }] }, push });
  const headers = { 'content-type': 'application/json' };
  const base = await autocannon({ url: `http://127.0.0.1:${noopPort}/noop`, method: 'POST', headers, body, ...load });
  const noopRss = await peakRssMiB(noop.pid!);
  noop.kill('SIGTERM');

  const dataDir = await tempDataDir();
  const port = await freePort();
  const herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir, '--role', 'api'], { DATABASE_URL: '' });
  try {
    const { rest_key } = await createProjectKeys(dataDir);
    const r = await autocannon({
      url: `${herald.url}/v1/transactional/send`, method: 'POST', body, ...load,
      headers: { ...headers, authorization: `Bearer ${rest_key}` },
    });
    const failed = r.non2xx + r.errors + r.timeouts;
    return [
      { phase: '(a) no-op route, same HTTP stack', 'req/s': base.requests.average, 'p50 ms': base.latency.p50, 'p99 ms': base.latency.p99, 'peak RSS MiB': noopRss },
      {
        phase: '(a) POST /v1/transactional/send (durable)', 'req/s': r.requests.average, 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99,
        ratio: `${((r.requests.average / base.requests.average) * 100).toFixed(0)}% of no-op (target ≥ 40%)`,
        'peak RSS MiB': await peakRssMiB(herald.child.pid!), note: failed ? `${failed} non-2xx/errors` : `postgres peak ${(await postgresPeakMiB(herald.child.pid!))?.toFixed(0)} MiB`,
      },
    ];
  } finally {
    await herald.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- (b) end to end through the pipeline --------------------------------------------------------

async function pipelinePhase(sandbox: SandboxProcess): Promise<{ rows: Row[]; rate: number }> {
  const dataDir = await tempDataDir();
  const port = await freePort();
  const herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir, '--sandbox-url', sandbox.url], { DATABASE_URL: '' });
  const rows: Row[] = [];
  let rate: number;
  try {
    const { rest_key } = await createProjectKeys(dataDir);
    const send = async (n: number, acceptedAt: Map<string, number>) => {
      const res = await fetch(`${herald.url}/v1/transactional/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${rest_key}` },
        body: sendBody(n),
      });
      const body = (await res.json()) as { message_id?: string };
      if (res.status !== 202 || !body.message_id) throw new Error(`send answered ${res.status}: ${JSON.stringify(body)}`);
      acceptedAt.set(body.message_id, Date.now());
    };

    // Burst: all sends as fast as the API takes them.
    await clearDeliveries(sandbox.url);
    const burst = new Map<string, number>();
    const started = Date.now();
    await pool(sends, 4, () => send(recipients, burst));
    const total = sends * recipients;
    await waitForDeliveries(sandbox.url, total, 600_000);
    const b = await latencies(sandbox.url, burst, total);
    rate = b.count / ((b.last - started) / 1000);
    rows.push({
      phase: `(b) ${sends} sends × ${recipients} recipients, burst`, 'deliveries/s': rate,
      'p50 ms': b.latency.p50, 'p99 ms': b.latency.p99, note: `${b.count}/${total} delivered, accept→delivered incl. queueing`,
    });

    // Paced at half the burst rate, in sends of 100 recipients: the latency of a loaded, not saturated, pipeline.
    await clearDeliveries(sandbox.url);
    const paced = new Map<string, number>();
    const per = 100;
    const intervalMs = (per / (rate / 2)) * 1000;
    const pacedSends = Math.max(10, Math.round(10_000 / intervalMs));
    const inflight: Promise<void>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < pacedSends; i++) {
      const wait = t0 + i * intervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inflight.push(send(per, paced));
    }
    await Promise.all(inflight);
    await waitForDeliveries(sandbox.url, pacedSends * per, 120_000);
    const p = await latencies(sandbox.url, paced, pacedSends * per);
    rows.push({
      phase: `(b) paced at half that rate (${(rate / 2).toFixed(0)}/s)`, 'deliveries/s': p.count / ((p.last - t0) / 1000),
      'p50 ms': p.latency.p50, 'p99 ms': p.latency.p99, ratio: `p99 target ≤ 250 ms`,
      'peak RSS MiB': await peakRssMiB(herald.child.pid!),
      note: `herald process; postgres peak ${(await postgresPeakMiB(herald.child.pid!))?.toFixed(0)} MiB`,
    });
  } finally {
    await herald.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  return { rows, rate };
}

// ---- the run --------------------------------------------------------------------------------------

const benchRss = () => process.resourceUsage().maxRSS / 1024;
console.log(`# transactional benchmark: ${sends} × ${recipients} recipients, ${ceilingPushes} pushes for the ceilings, accepts for ${acceptSeconds} s`);
const rows: Row[] = [];
rows.push(...(await acceptPhase()));

const sandbox = await spawnSandbox();
try {
  const link = await linkSandbox(sandbox.url);
  const herald = await ceilingWith(await heraldSender('apns', link), ceilingPushes);
  if (herald.failures) throw new Error(`${herald.failures} pushes failed in the ceiling run, the first: ${herald.first}`);
  const ceiling = herald.rate;
  await clearDeliveries(sandbox.url);
  const library = await ceilingWith(await librarySender('apns', link), ceilingPushes);
  if (library.failures) console.error(`note: ${library.failures} node-apn pushes failed, the first: ${library.first}`);
  const nodeApn = library.rate;
  await clearDeliveries(sandbox.url);
  const { rows: pipeline, rate } = await pipelinePhase(sandbox);
  rows.push(...pipeline);
  const burst = rows.find((r) => String(r.phase).includes('burst'))!;
  burst.ratio = `${((rate / ceiling) * 100).toFixed(0)}% of (c) (target ≥ 60%), ${(rate / nodeApn).toFixed(2)}× node-apn`;
  rows.push({ phase: '(c) simulator ceiling, Herald HTTP/2 sender direct', 'deliveries/s': ceiling, 'peak RSS MiB': benchRss(), note: 'bench process' });
  rows.push({ phase: '(c) simulator ceiling, @parse/node-apn', 'deliveries/s': nodeApn });
  rows.push({ phase: 'sandbox process', 'peak RSS MiB': await peakRssMiB(sandbox.child.pid!) });
} finally {
  await sandbox.stop();
}
printTable(rows);
console.log(`results: ${await saveResult('transactional', rows)}`);
process.exit(0);
