/**
 * `npm run bench -- in-app`: the in-app display check (POST /v1/sdk/in-app/check) at a fixed
 * offered load against a running Herald (role api, over a scratch database of the shared
 * PostgreSQL), beside a baseline measured in the same run through the same HTTP stack and pool:
 * GET /v1/installations/{install_id}, one authenticated call answered by one primary-key SELECT.
 *
 * Seeded set-based: `--profiles` profiles with one web installation each, attributes, and
 * `--events` events each over 60 days (a fifth of them `purchase`); one running message whose audience reads
 * an attribute and the purchase events of the last 30 days, with display capping; one in_app
 * capping rule; and an impression for a tenth of the devices, so the capping reads find rows.
 *
 * Open loop: requests leave on schedule at `--rate` per second whatever the answers, each
 * latency measured from when it was due (so a stall counts against every request it delayed,
 * not only the one in flight). Phases: baseline, check, baseline again, `--seconds` each after a
 * short warm-up. Reported: p50, p99, max, the share answered 2xx, Herald's and this database's
 * PostgreSQL backends' CPU per call (from /proc), and the checks' answers.
 * Target: check p99 ≤ 50 ms at 1,000 checks/s.
 *
 * Options: --rate N (1000) --seconds N (10) --profiles N (20000) --events N (20)
 *          --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import postgres from 'postgres';
import { packageRoot } from '../src/paths.js';
import { cpuDelta, cpuSeconds, cpuSecondsNamed } from './support/cpu.js';
import { createScratchDatabase } from './support/databases.js';
import { freePort, peakRssMiB, spawnHerald } from './support/processes.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    profiles: { type: 'string', default: '20000' },
    events: { type: 'string', default: '20' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const profiles = Number(values.profiles);
const eventsEach = Number(values.events);
const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

interface Call { method: 'GET' | 'POST'; path: string; key: string; body?: string }

/** One HTTP call on the shared keep-alive agent: its status and body. */
function send(agent: Agent, base: URL, c: Call): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({
      agent, host: base.hostname, port: base.port, method: c.method, path: c.path,
      headers: { authorization: `Bearer ${c.key}`, ...(c.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(c.body) } : {}) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(c.body);
  });
}

/** `rate` calls a second for `durationS` seconds on schedule; each latency from its due time. */
async function openLoop(agent: Agent, base: URL, durationS: number, next: (i: number) => Call) {
  const total = Math.round(rate * durationS);
  const latencies: number[] = [];
  const answers = new Map<string, number>();
  let ok = 0;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total;) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - t0) / 1000) * rate) + 1);
    for (; i < due; i++) {
      const at = t0 + (i / rate) * 1000;
      inFlight.push(send(agent, base, next(i)).then((r) => {
        latencies.push(performance.now() - at);
        if (r.status >= 200 && r.status < 300) ok++;
        const key = r.status === 200 && r.body.startsWith('{"show"') ? r.body : String(r.status);
        answers.set(key, (answers.get(key) ?? 0) + 1);
      }));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - t0) / 1000;
  return { latencies, ok, total, answers, achieved: total / elapsed };
}

console.log(`# in-app display check: ${rate}/s offered for ${seconds} s; ${profiles} profiles × ${eventsEach} events`);
const db = await createScratchDatabase(values['database-url'], 'inapp');
const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const rows: Row[] = [];
let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
try {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'project', 'create', '--name', 'bench', '--data-dir', dataDir, '--database-url', db.url]);
  const project = JSON.parse(stdout) as { project_id: string; rest_key: string; sdk_key: string };
  const port = await freePort();
  herald = await spawnHerald(['--port', String(port), '--data-dir', dataDir, '--role', 'api'], {
    DATABASE_URL: db.url, HERALD_RATE_SDK_EVENTS: '10000000', HERALD_RATE_PROFILE_OPERATIONS: '10000000',
  });
  const base = new URL(herald.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const rest = async (method: 'POST' | 'GET', path: string, body?: unknown) => {
    const r = await send(agent, base, { method, path, key: project.rest_key, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as Record<string, unknown>;
  };

  // The seed, set-based, straight into the tables (one project; the message and rule through the API).
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const p = project.project_id;
  await sql`insert into profiles (project_id, custom_id, attributes, timezone)
            select ${p}, 'u' || g, jsonb_build_object('tier', case when g % 4 = 0 then 'silver' else 'gold' end, 'visits', g % 97), 'Europe/Paris'
            from generate_series(1, ${profiles}) g`;
  await sql`insert into installations (project_id, install_id, custom_id, platform)
            select ${p}, 'i' || g, 'u' || g, 'web' from generate_series(1, ${profiles}) g`;
  await sql`insert into events (id, project_id, custom_id, name, time, attributes)
            select gen_random_uuid(), ${p}, 'u' || (g % ${profiles} + 1), case when (g / ${profiles}) % 5 = 0 then 'purchase' else 'page_view' end,
                   now() - (g % 60) * interval '1 day', '{}'
            from generate_series(1, ${profiles * eventsEach}) g`;
  const message = await rest('POST', '/v1/in-app-messages', {
    name: 'Bench', format: 'modal', content: { title: 'Hi {{ profile.custom_id }}', body: 'Bench' }, trigger: { type: 'session_start' },
    audience: { all: [{ attribute: 'tier', eq: 'gold' }, { event: 'purchase', within_days: 30 }] },
    capping: { max_displays: 1000, min_interval_seconds: 1 },
  });
  const messageId = message.id as string;
  await rest('POST', `/v1/in-app-messages/${messageId}/start`);
  await rest('POST', '/v1/cappings', { name: 'in-app spacing', scope: 'in_app', max_sends: 1000, window_amount: 1, window_unit: 'hours', action: 'skip' });
  const shown = Math.floor(profiles / 10);
  await sql`insert into in_app_events (project_id, install_id, client_id, message_id, version, type, owner_kind, owner, time, received_at)
            select ${p}, 'i' || g, 'c' || g, ${messageId}, 1, 'impression', 'profile', 'u' || g, now() - interval '1 day', now()
            from generate_series(1, ${shown}) g`;
  await sql`insert into in_app_displays (project_id, message_id, owner_kind, owner, displays, clicks, last_display)
            select ${p}, ${messageId}, 'profile', 'u' || g, 1, 0, now() - interval '1 day' from generate_series(1, ${shown}) g`;
  await sql`analyze`;
  await sql.end({ timeout: 5 });

  const device = () => `i${1 + Math.floor(Math.random() * profiles)}`;
  const baseline = (): Call => ({ method: 'GET', path: `/v1/installations/${device()}`, key: project.rest_key });
  const checkCall = (): Call => ({ method: 'POST', path: '/v1/sdk/in-app/check', key: project.sdk_key, body: JSON.stringify({ install_id: device(), message_id: messageId, version: 1 }) });

  const phase = async (label: string, next: () => Call) => {
    await openLoop(agent, base, Math.min(2, seconds), next); // warm-up: connections, prepared statements, JIT of the hot path
    // CPU per call of Herald and of this database's PostgreSQL backends: what the latencies cost,
    // less swayed than they are by what else the machine runs.
    const backends = (argv: string[]) => argv.join(' ').includes(` ${db.name} `);
    const [h0, pg0] = [await cpuSeconds(herald!.child.pid!), await cpuSecondsNamed('postgres', backends)];
    const r = await openLoop(agent, base, seconds, next);
    const [h1, pg1] = [await cpuSeconds(herald!.child.pid!), await cpuSecondsNamed('postgres', backends)];
    const row: Row = {
      phase: label, 'offered/s': rate, 'achieved/s': r.achieved, calls: r.total, '2xx': `${((r.ok / r.total) * 100).toFixed(1)}%`,
      'p50 ms': percentile(r.latencies, 50), 'p99 ms': percentile(r.latencies, 99), 'max ms': Math.max(...r.latencies),
      'Herald CPU ms/call': (((h1 ?? 0) - (h0 ?? 0)) * 1000) / r.total, 'PostgreSQL CPU ms/call': (cpuDelta(pg0, pg1) * 1000) / r.total,
    };
    rows.push(row);
    return { row, answers: r.answers };
  };
  const b1 = await phase('baseline: GET /v1/installations/{id} (one PK select)', baseline);
  const c = await phase('POST /v1/sdk/in-app/check', checkCall);
  const b2 = await phase('baseline again', baseline);
  const baseP99 = ((b1.row['p99 ms'] as number) + (b2.row['p99 ms'] as number)) / 2;
  rows.push({ phase: 'check p99 / mean baseline p99', ratio: `${((c.row['p99 ms'] as number) / baseP99).toFixed(2)}×` });
  rows.push({ phase: 'peak RSS of Herald, MiB', ratio: String(Math.round((await peakRssMiB(herald.child.pid!)) ?? 0)) });
  printTable(rows);
  const answers = Object.fromEntries(c.answers);
  console.log('check answers:', answers);
  console.log(`target: check p99 ≤ 50 ms at 1,000 checks/s; saved to ${await saveResult('in-app', { rate, seconds, profiles, events: eventsEach, rows, answers })}`);
  agent.destroy();
} finally {
  await herald?.stop();
  await rm(dataDir, { recursive: true, force: true });
  await db.drop();
}
