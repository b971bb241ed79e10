/**
 * `npm run bench -- webhooks`: webhook events delivered per second from Herald's durable outbox to a
 * local receiver, beside the receiver's own ceiling measured in the same run.
 *
 *  (1) The ceiling: a bare node:http client (keep-alive, as Herald's) posts the same signed
 *      payloads to the receiver, as many in flight as Herald may have (4 per endpoint, 64 at most).
 *  (2) Herald: one process (`--role all`, the PostgreSQL queue) over a fresh database of the shared
 *      PostgreSQL; E endpoints made through the API; N events written into the outbox in one
 *      statement (each to every endpoint, as an event without a filter goes); timed from that
 *      commit until the receiver has seen every (endpoint, webhook-id) pair. Each delivery is
 *      claimed, signed, sent and its attempt recorded, as in production.
 *  Reported: deliveries/s and the ratio to the ceiling, CPU per delivery (Herald's process, the
 *  receiver's), Herald's peak RSS, the attempts' latency p50/p99 (webhook_attempts), copies.
 *
 * Options: --events N (5000) --endpoints N (4)
 *          --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { packageRoot } from '../src/paths.js';
import { payloadOf, signedHeaders } from '../src/domain/webhooks/signing.js';
import { freePort, peakRssMiB, spawnHerald } from './support/processes.js';
import { createScratchDatabase } from './support/databases.js';
import { createProjectAt } from './support/herald-roles.js';
import { cpuSeconds } from './support/cpu.js';
import { pool, summarize } from './support/stats.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    endpoints: { type: 'string', default: '4' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const events = Number(values.events);
const endpoints = Number(values.endpoints);
const deliveries = events * endpoints;
/** Herald's dispatcher defaults (worker/webhook-dispatcher.ts): 4 per endpoint, 64 per process. */
const inFlight = Math.min(64, 4 * endpoints);

const data = (i: number) => ({
  message_id: randomUUID(), delivery_id: randomUUID(), group_id: 'bench', channel: 'push', platform: 'ios',
  target: `token-${i}`, status: 'sent', reason: null,
});

async function startReceiver(): Promise<{ pid: number; port: number; count(): Promise<{ requests: number; unique: number }>; reset(): Promise<void>; stop(): void }> {
  const child = spawn(process.execPath, [join(packageRoot, 'dist', 'bench', 'support', 'webhook-receiver-process.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)));
  const base = `http://127.0.0.1:${port}/count`;
  return {
    pid: child.pid!, port,
    count: async () => (await (await fetch(base)).json()) as { requests: number; unique: number },
    reset: async () => { await fetch(base, { method: 'DELETE' }); },
    stop: () => child.kill('SIGTERM'),
  };
}

/** (1) The same signed bodies, straight at the receiver with Herald's concurrency. */
async function ceiling(port: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
  const t0 = performance.now();
  await pool(deliveries, inFlight, async (i) => {
    const body = payloadOf('message.sent', new Date(), data(i));
    const headers = signedHeaders([secret], randomUUID(), Math.floor(Date.now() / 1000), body);
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: `/hook/${i % endpoints}`, method: 'POST', agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`receiver answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return seconds;
}

console.log(`# webhooks benchmark: ${events} events × ${endpoints} endpoints = ${deliveries} deliveries, ${inFlight} in flight`);
const rows: Row[] = [];
const receiver = await startReceiver();
const db = await createScratchDatabase(values['database-url'], 'webhooks');
const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
try {
  const rc0 = await cpuSeconds(receiver.pid);
  const ceilingSeconds = await ceiling(receiver.port);
  const rc1 = await cpuSeconds(receiver.pid);
  const bare = await receiver.count();
  if (bare.unique !== deliveries) throw new Error(`the ceiling run reached ${bare.unique} of ${deliveries}`);
  const ceilingRate = deliveries / ceilingSeconds;
  rows.push({
    phase: '(1) bare client → receiver (ceiling)', deliveries, seconds: ceilingSeconds, 'per s': ceilingRate,
    'receiver CPU µs/delivery': ((rc1! - rc0!) / deliveries) * 1e6,
  });
  await receiver.reset();

  herald = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--data-dir', dataDir],
    { NATS_URL: '', HERALD_ALLOW_PRIVATE_NETWORKS: 'true' });
  const { project_id, rest_key } = await createProjectAt(db.url, dataDir);
  for (let e = 0; e < endpoints; e++) {
    const res = await fetch(`${herald.url}/v1/webhooks`, {
      method: 'POST', headers: { authorization: `Bearer ${rest_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${receiver.port}/hook/${e}`, description: `bench ${e}` }),
    });
    if (res.status !== 201) throw new Error(`POST /v1/webhooks answered ${res.status}: ${await res.text()}`);
  }

  // (2) N events into the outbox at once, each to every endpoint of the project.
  const hc0 = await cpuSeconds(herald.child.pid!);
  const rh0 = await cpuSeconds(receiver.pid);
  const t0 = performance.now();
  await sql.begin(async (tx) => {
    const ids = Array.from({ length: events }, () => randomUUID());
    await tx`
      insert into webhook_events (id, project_id, type, data, created_at)
      select id, ${project_id}, 'message.sent', d, now()
        from unnest(${ids}::uuid[], ${ids.map((_, i) => JSON.stringify(data(i)))}::jsonb[]) as u(id, d)`;
    await tx`
      insert into webhook_deliveries (event_id, endpoint_id, project_id, next_attempt_at, created_at, updated_at)
      select e.id, ep.id, e.project_id, now(), now(), now()
        from webhook_events e join webhook_endpoints ep on ep.project_id = e.project_id
       where e.project_id = ${project_id}`;
  });
  let seen = await receiver.count();
  while (seen.unique < deliveries) {
    if (performance.now() - t0 > 600_000) throw new Error(`only ${seen.unique} of ${deliveries} arrived in 10 minutes`);
    await new Promise((r) => setTimeout(r, 50));
    seen = await receiver.count();
  }
  const seconds = (performance.now() - t0) / 1000;
  const hc1 = await cpuSeconds(herald.child.pid!);
  const rh1 = await cpuSeconds(receiver.pid);
  const [left] = await sql<{ n: number }[]>`select count(*)::int as n from webhook_deliveries where status <> 'succeeded'`;
  const latencies = (await sql<{ ms: number }[]>`select latency_ms as ms from webhook_attempts`).map((r) => r.ms);
  const lat = summarize(latencies);
  const rate = deliveries / seconds;
  rows.push({
    phase: '(2) Herald outbox → receiver', deliveries, seconds, 'per s': rate,
    ratio: `${((rate / ceilingRate) * 100).toFixed(0)}% of the ceiling`,
    'Herald CPU µs/delivery': ((hc1! - hc0!) / deliveries) * 1e6,
    'receiver CPU µs/delivery': ((rh1! - rh0!) / deliveries) * 1e6,
    'attempt p50/p99 ms': `${lat.p50}/${lat.p99}`,
    'peak RSS MiB': (await peakRssMiB(herald.child.pid!))!,
    note: `${seen.requests - seen.unique} copies; ${left!.n} not recorded succeeded when the last arrived; ${latencies.length} attempts`,
  });
  printTable(rows);
  console.log(`saved ${await saveResult('webhooks', { events, endpoints, inFlight, rows })}`);
} finally {
  await herald?.stop();
  receiver.stop();
  await sql.end({ timeout: 5 });
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
