/**
 * `npm run bench -- scaleout`: Herald scaled out over NATS JetStream beside the pipeline a Novu-like
 * design builds on BullMQ, in the same run, on the same machine, to the same APNs simulator with the
 * same HTTP/2 sender (providers/apns/client.ts).
 *
 *  Herald: one `--role api` process (its outbox relay publishes to JetStream) and 1, then 2,
 *          `--role worker` processes, on a fresh database of the shared PostgreSQL and a stream
 *          prefix of their own.
 *  BullMQ: bench/support/bullmq-pipeline.ts (accept endpoint → PostgreSQL insert + fan-out job;
 *          fan-out Worker → delivery rows + addBulk; delivery Workers → send + UPDATE per delivery),
 *          with 1, then 2, worker processes, on a fresh database and a Redis key prefix of its own.
 *
 * Workload: bench/transactional.ts phase (b)'s burst, N sends of M fresh tokens as fast as the API
 * takes them (4 in flight); deliveries/s, accept→delivered p50/p99 from the sandbox's records.
 *
 * Evidence of where the time goes, per run: each process's peak RSS; the CPU seconds each part used
 * during the burst (our children by pid; the run's own PostgreSQL backends, the NATS and Redis
 * servers by command line; the rest of the machine as "other"), and from them CPU ms per delivery,
 * which unlike deliveries/s holds still when other work takes cores away; the backlog at each stage
 * (outbox, stream, Redis lists) and the database sessions active or waiting for a lock, sampled every
 * 250 ms. HERALD_NODE_FLAGS (e.g. `--cpu-prof --cpu-prof-dir DIR`) reaches every Herald and BullMQ
 * child, for profiles.
 *
 * Options: --sends N (50) --recipients N (1000) --workers 1,2 --concurrency N (500, per worker process)
 *          --pipelines herald,bullmq[,herald-pg] --rounds N (1; each round runs every pipeline once
 *          per worker count, interleaved, so a machine shared with other work slows both sides
 *          alike; ratios pair runs of the same round, and several rounds add medians)
 *          --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 *          --nats-url URL (nats://127.0.0.1:4222) --redis-url URL (redis://127.0.0.1:6379)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { Queue } from 'bullmq';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { deleteStreams } from '../test/support/jetstream/nats.js';
import { jobNames } from '../src/queue/jetstream/names.js';
import { openDatabase } from '../src/store/database.js';
import { createProject } from '../src/store/projects.js';
import { createKeyring } from '../src/store/sealed.js';
import { silentLogger } from '../src/observability/logger.js';
import { freePort, peakRssMiB, spawnHerald, spawnSandbox, type SandboxProcess } from './support/processes.js';
import { pool } from './support/stats.js';
import { printTable, saveResult, type Row } from './support/report.js';
import { sendBody } from './support/workload.js';
import { clearDeliveries, latencies, waitForDeliveries } from './support/sandbox-records.js';
import { createScratchDatabase } from './support/databases.js';
import { createProjectAt, spawnHeraldRole } from './support/herald-roles.js';
import { cpuNow, cpuUsed, listensOn, type ServerMatch } from './support/cpu.js';
import { sample, type Backlog } from './support/sampler.js';
import { deliveryQueueName, fanoutQueueName, flushBullmq, redisConnection, spawnScript } from './support/bullmq-pipeline.js';

const { values } = parseArgs({
  options: {
    sends: { type: 'string', default: '50' },
    recipients: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '1,2' },
    concurrency: { type: 'string', default: '500' },
    pipelines: { type: 'string', default: 'herald,bullmq' },
    rounds: { type: 'string', default: '1' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    'nats-url': { type: 'string', default: 'nats://127.0.0.1:4222' },
    'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
  },
});
const sends = Number(values.sends);
const recipients = Number(values.recipients);
const workerCounts = values.workers.split(',').map(Number);
const concurrency = Number(values.concurrency);
const pipelines = values.pipelines.split(',');
const rounds = Number(values.rounds);
const databaseUrl = values['database-url'];
const natsUrl = values['nats-url'];
const redisUrl = values['redis-url'];
const total = sends * recipients;

/** `herald-pg`, on request: the same Herald processes on its PostgreSQL queue, no NATS, to tell
 *  the JetStream path's cost from the rest of Herald's. */
type Pipeline = 'herald' | 'bullmq' | 'herald-pg';
const labels: Record<Pipeline, string> = { herald: 'Herald, JetStream', bullmq: 'BullMQ pipeline', 'herald-pg': 'Herald, PostgreSQL queue' };

interface RunResult {
  round: number;
  pipeline: Pipeline;
  workers: number;
  delivered: number;
  expected: number;
  deliveriesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** From the first send to the last one answered. */
  acceptSeconds: number;
  /** From the first send to the last delivery. */
  totalSeconds: number;
  peakRssMiB: { api: number | undefined; workers: (number | undefined)[] };
  /** CPU seconds used from the first send until every delivery had arrived. */
  cpuSeconds: Record<string, number>;
  /** Busy share of the machine's cores over the same window, in %. */
  machineBusyPercent: number;
  /** Backlogs at each stage and database sessions, sampled every 250 ms during the run. */
  backlog: Backlog;
}

// ---- the burst, the samplers, the CPU accounting --------------------------------------------------

/** bench/transactional.ts phase (b)'s burst against `sendUrl`: every delivery waited for and timed. */
async function burst(sandbox: SandboxProcess, sendUrl: string, headers: Record<string, string>) {
  await clearDeliveries(sandbox.url);
  const acceptedAt = new Map<string, number>();
  const started = Date.now();
  await pool(sends, 4, async () => {
    const res = await fetch(sendUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: sendBody(recipients) });
    const body = (await res.json()) as { message_id?: string };
    if (res.status !== 202 || !body.message_id) throw new Error(`send answered ${res.status}: ${JSON.stringify(body)}`);
    acceptedAt.set(body.message_id, Date.now());
  });
  const acceptedAll = Date.now();
  await waitForDeliveries(sandbox.url, total, 600_000);
  const l = await latencies(sandbox.url, acceptedAt, total);
  return {
    ...l,
    rate: l.count / ((l.last - started) / 1000),
    acceptSeconds: (acceptedAll - started) / 1000,
    totalSeconds: (l.last - started) / 1000,
  };
}

/**
 * The run's database sessions from pg_stat_activity: running a statement, and waiting for a lock,
 * by the table the waiting statement names (the outbox relay's `for update` waits show up here).
 */
async function sessions(probe: postgres.Sql): Promise<Record<string, number>> {
  const rows = await probe<{ active: number; lock_outbox: number; lock_other: number }[]>`
    select count(*) filter (where state = 'active')::int as active,
           count(*) filter (where wait_event_type = 'Lock' and query like '%job_outbox%')::int as lock_outbox,
           count(*) filter (where wait_event_type = 'Lock' and query not like '%job_outbox%')::int as lock_other
    from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
  const r = rows[0]!;
  return { 'pg active': r.active, 'pg lock-waits outbox': r.lock_outbox, 'pg lock-waits other': r.lock_other };
}

const portOf = (url: string, dflt: string) => new URL(url).port || dflt;
/** The shared servers of a run: its own database's backends (not the server's background writers,
 *  nor other databases'), and the NATS and Redis servers at the configured ports. */
const sharedServers = (dbName: string): Record<string, ServerMatch> => ({
  postgres: { name: 'postgres', args: (argv) => argv.join(' ').split(' ').includes(dbName) },
  nats: { name: 'nats-server', args: listensOn(portOf(natsUrl, '4222')) },
  redis: { name: 'redis-server', args: listensOn(portOf(redisUrl, '6379')) },
});

/** The burst with the CPU read before and after it, and the samples of its backlogs. */
async function measure(sandbox: SandboxProcess, sendUrl: string, headers: Record<string, string>,
  children: Record<string, number[]>, servers: Record<string, ServerMatch>, sampler: { stop(): Promise<Backlog> }) {
  try {
    const before = await cpuNow(children, servers);
    const b = await burst(sandbox, sendUrl, headers);
    const after = await cpuNow(children, servers);
    return { b, ...cpuUsed(before, after), backlog: await sampler.stop() };
  } finally {
    await sampler.stop(); // again after a failed burst, so that no sample outlives the run's database
  }
}

// ---- Herald ---------------------------------------------------------------------------------------

async function heraldRun(round: number, workers: number, sandbox: SandboxProcess, jetstream = true): Promise<RunResult> {
  const db = await createScratchDatabase(databaseUrl, `scaleout_herald_w${workers}`);
  const prefix = `bench_scaleout_${randomBytes(4).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-scaleout-'));
  const common = ['--database-url', db.url, ...(jetstream ? ['--nats-url', natsUrl, '--nats-stream-prefix', prefix] : []),
    '--sandbox-url', sandbox.url, '--data-dir', dataDir];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const api = await spawnHerald(['--port', String(await freePort()), '--role', 'api', ...common]);
    stops.push(api.stop);
    const { rest_key } = await createProjectAt(db.url, dataDir);
    const ws = [];
    for (let i = 0; i < workers; i++) {
      const w = await spawnHeraldRole(['--role', 'worker', '--worker-concurrency', String(concurrency), ...common], 'using an external sandbox');
      stops.push(w.stop);
      ws.push(w);
    }

    // Where jobs wait: committed but not yet relayed (the outbox), and in the stream (workqueue
    // retention: a message leaves it on ack), by topic; on the PostgreSQL queue, in its jobs table.
    const probeSql = postgres(db.url, { max: 1, onnotice: () => {} });
    stops.push(() => probeSql.end({ timeout: 5 }));
    const nc = jetstream ? await natsConnect({ servers: natsUrl }) : undefined;
    if (nc) stops.push(() => nc.close());
    const jsm = nc && (await jetstreamManager(nc));
    const names = jobNames(prefix);
    const sampler = sample(async () => {
      if (!jsm) {
        const [jobs] = await probeSql<{ fanout: number; apns: number }[]>`
          select count(*) filter (where topic = 'message.fanout')::int as fanout, count(*) filter (where topic = 'delivery.apns')::int as apns
          from jobs`;
        return { 'jobs fanout': jobs!.fanout, 'jobs apns': jobs!.apns, ...(await sessions(probeSql)) };
      }
      const [outbox] = await probeSql<{ fanout: number; apns: number }[]>`
        select count(*) filter (where topic = 'message.fanout')::int as fanout, count(*) filter (where topic = 'delivery.apns')::int as apns
        from job_outbox`;
      const stream = await jsm.streams.info(names.stream, { subjects_filter: names.streamSubjects });
      const bySubject = stream.state.subjects ?? {};
      return {
        'outbox fanout': outbox!.fanout, 'outbox apns': outbox!.apns,
        'stream fanout': bySubject[names.subject('message.fanout')] ?? 0, 'stream apns': bySubject[names.subject('delivery.apns')] ?? 0,
        ...(await sessions(probeSql)),
      };
    });

    const children = { api: [api.child.pid!], workers: ws.map((w) => w.child.pid!), sandbox: [sandbox.child.pid!], bench: [process.pid] };
    const { b, used, busy, backlog } = await measure(sandbox, `${api.url}/v1/transactional/send`, { authorization: `Bearer ${rest_key}` },
      children, sharedServers(db.name), sampler);
    return {
      round, pipeline: jetstream ? 'herald' : 'herald-pg', workers, delivered: b.count, expected: total, deliveriesPerSecond: b.rate,
      latencyMs: { p50: b.latency.p50, p99: b.latency.p99, max: b.latency.max },
      acceptSeconds: b.acceptSeconds, totalSeconds: b.totalSeconds,
      peakRssMiB: { api: await peakRssMiB(api.child.pid!), workers: await Promise.all(ws.map((w) => peakRssMiB(w.child.pid!))) },
      cpuSeconds: used, machineBusyPercent: busy, backlog,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    if (jetstream) await deleteStreams(natsUrl, prefix);
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- the BullMQ pipeline --------------------------------------------------------------------------

async function bullmqRun(round: number, workers: number, sandbox: SandboxProcess): Promise<RunResult> {
  const db = await createScratchDatabase(databaseUrl, `scaleout_bullmq_w${workers}`);
  const prefix = `bench-scaleout-${randomBytes(4).toString('hex')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-scaleout-'));
  const stops: (() => Promise<unknown>)[] = [];
  let probes: Queue[] = [];
  try {
    // Herald's schema and a project, so that the baseline writes the very tables Herald writes.
    const schema = await openDatabase({ databaseUrl: db.url, dataDir, log: silentLogger(), max: 2 });
    // The baseline never reads the project's sealed VAPID key: any master key will do.
    const { project_id } = await createProject(schema.sql, 'bench', createKeyring(randomBytes(32))).finally(() => schema.close());

    const common = ['--database-url', db.url, '--redis-url', redisUrl, '--prefix', prefix];
    const port = await freePort();
    const accept = await spawnScript('bullmq-accept.js', ['--port', String(port), '--project-id', project_id, ...common]);
    stops.push(accept.stop);
    const ws = [];
    for (let i = 0; i < workers; i++) {
      const w = await spawnScript('bullmq-worker.js', ['--sandbox-url', sandbox.url, '--concurrency', String(concurrency), ...common]);
      stops.push(w.stop);
      ws.push(w);
    }

    probes = [fanoutQueueName, deliveryQueueName].map((n) => new Queue(n, { connection: redisConnection(redisUrl), prefix }));
    const [fanoutProbe, deliveryProbe] = probes as [Queue, Queue];
    const probeSql = postgres(db.url, { max: 1, onnotice: () => {} });
    stops.push(() => probeSql.end({ timeout: 5 }));
    const sampler = sample(async () => {
      const [f, d] = await Promise.all([fanoutProbe.getJobCounts('wait', 'active'), deliveryProbe.getJobCounts('wait', 'active', 'delayed')]);
      return {
        'redis fanout waiting': f.wait ?? 0, 'redis apns waiting': d.wait ?? 0, 'redis apns active': d.active ?? 0, 'redis apns delayed': d.delayed ?? 0,
        ...(await sessions(probeSql)),
      };
    });

    const children = { api: [accept.child.pid!], workers: ws.map((w) => w.child.pid!), sandbox: [sandbox.child.pid!], bench: [process.pid] };
    const { b, used, busy, backlog } = await measure(sandbox, `http://127.0.0.1:${port}/v1/transactional/send`, {},
      children, sharedServers(db.name), sampler);
    return {
      round, pipeline: 'bullmq', workers, delivered: b.count, expected: total, deliveriesPerSecond: b.rate,
      latencyMs: { p50: b.latency.p50, p99: b.latency.p99, max: b.latency.max },
      acceptSeconds: b.acceptSeconds, totalSeconds: b.totalSeconds,
      peakRssMiB: { api: await peakRssMiB(accept.child.pid!), workers: await Promise.all(ws.map((w) => peakRssMiB(w.child.pid!))) },
      cpuSeconds: used, machineBusyPercent: busy, backlog,
    };
  } finally {
    await Promise.all(probes.map((q) => q.close()));
    for (const stop of stops.reverse()) await stop();
    const removed = await flushBullmq(redisUrl, prefix);
    if (!removed) console.error(`note: no Redis keys under ${prefix} to remove`);
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// ---- the run --------------------------------------------------------------------------------------

const mib = (v: number | undefined) => (v === undefined ? '?' : v.toFixed(0));
const secs = (v: number | undefined) => (v ?? 0).toFixed(1);

/**
 * CPU milliseconds per delivery of the pipeline's own parts (API, workers, its database backends,
 * NATS or Redis), without the sandbox and the bench process both sides share: unlike deliveries/s,
 * it holds still when other work on the machine takes cores away.
 */
function cpuPerDelivery(r: RunResult): number {
  const c = r.cpuSeconds;
  const own = (c.api ?? 0) + (c.workers ?? 0) + (c.postgres ?? 0) + (r.pipeline === 'herald' ? c.nats ?? 0 : 0) + (r.pipeline === 'bullmq' ? c.redis ?? 0 : 0);
  return (own * 1000) / Math.max(1, r.delivered);
}

function rowOf(r: RunResult, other: RunResult | undefined): Row {
  const c = r.cpuSeconds;
  return {
    pipeline: labels[r.pipeline] + (rounds > 1 ? `, round ${r.round}` : ''),
    workers: r.workers,
    'deliveries/s': r.deliveriesPerSecond,
    ratio: r.pipeline !== 'bullmq' && other ? `${(r.deliveriesPerSecond / other.deliveriesPerSecond).toFixed(2)}× BullMQ` + (r.pipeline === 'herald' ? ' (target ≥ 2×)' : '') : undefined,
    'p50 ms': r.latencyMs.p50,
    'p99 ms': r.latencyMs.p99,
    'accepts s': r.acceptSeconds,
    'CPU ms/delivery': cpuPerDelivery(r),
    'peak RSS MiB': `api ${mib(r.peakRssMiB.api)}, worker ${r.peakRssMiB.workers.map(mib).join(' + ')}`,
    'CPU s during run': `api ${secs(c.api)}, workers ${secs(c.workers)}, sandbox ${secs(c.sandbox)}, bench ${secs(c.bench)}, pg ${secs(c.postgres)}, ` +
      (r.pipeline === 'herald' ? `nats ${secs(c.nats)}, ` : r.pipeline === 'bullmq' ? `redis ${secs(c.redis)}, ` : '') +
      `other ${secs(c.other)}; machine ${r.machineBusyPercent.toFixed(0)}% busy`,
    'backlog max (mean)': Object.entries(r.backlog.max).filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v} (${(r.backlog.mean[k] ?? 0).toFixed(k.startsWith('pg') ? 1 : 0)})`).join(', ') || 'none',
    note: r.delivered === r.expected ? `${r.delivered} delivered in ${r.totalSeconds.toFixed(1)} s` : `${r.delivered}/${r.expected} delivered`,
  };
}

console.log(`# scaleout benchmark: ${sends} sends × ${recipients} recipients, ${workerCounts.join(' and ')} worker process(es), ` +
  `concurrency ${concurrency} per worker; PostgreSQL ${new URL(databaseUrl).host}, NATS ${natsUrl}, Redis ${redisUrl}`);
const runs: RunResult[] = [];
const failures: Row[] = [];
let sandboxRss: number | undefined;
const sandbox = await spawnSandbox();
try {
  for (let round = 1; round <= rounds; round++) {
    for (const workers of workerCounts) {
      for (const p of pipelines as Pipeline[]) {
        process.stderr.write(`round ${round}: ${p} with ${workers} worker process(es)...\n`);
        try {
          const r = await (p === 'bullmq' ? bullmqRun(round, workers, sandbox) : heraldRun(round, workers, sandbox, p === 'herald'));
          runs.push(r);
          process.stderr.write(`  ${r.deliveriesPerSecond.toFixed(0)} deliveries/s, p99 ${r.latencyMs.p99} ms\n`);
        } catch (err) {
          console.error(`${p} with ${workers} worker(s) failed: ${(err as Error).stack ?? String(err)}`);
          failures.push({ pipeline: `${p}, round ${round}`, workers, note: `failed: ${(err as Error).message.split('\n')[0]}` });
        }
      }
    }
  }
} finally {
  sandboxRss = await peakRssMiB(sandbox.child.pid!);
  await sandbox.stop();
}

const rows: Row[] = runs.map((r) => rowOf(r, runs.find((o) => o.pipeline === 'bullmq' && o.workers === r.workers && o.round === r.round)));
if (rounds > 1) {
  // Medians over the rounds, the ratio of the medians beside the per-round ratios above.
  const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
  for (const workers of workerCounts) {
    const med = (p: Pipeline, f: (r: RunResult) => number) => {
      const xs = runs.filter((r) => r.pipeline === p && r.workers === workers).map(f);
      return xs.length ? median(xs) : NaN;
    };
    const bullmq = med('bullmq', (r) => r.deliveriesPerSecond);
    for (const p of pipelines as Pipeline[]) {
      rows.push({
        pipeline: `${labels[p]}, median of ${rounds}`, workers,
        'deliveries/s': med(p, (r) => r.deliveriesPerSecond),
        ratio: p !== 'bullmq' ? `${(med(p, (r) => r.deliveriesPerSecond) / bullmq).toFixed(2)}× BullMQ` + (p === 'herald' ? ' (target ≥ 2×)' : '') : undefined,
        'p50 ms': med(p, (r) => r.latencyMs.p50), 'p99 ms': med(p, (r) => r.latencyMs.p99),
        'CPU ms/delivery': med(p, cpuPerDelivery),
      });
    }
  }
}
rows.push(...failures);
rows.push({ pipeline: 'sandbox process', 'peak RSS MiB': `${mib(sandboxRss)}`, note: 'shared by every run' });
printTable(rows);
console.log(`results: ${await saveResult('scaleout', { options: { sends, recipients, workers: workerCounts, concurrency, rounds }, runs, rows })}`);
process.exit(failures.length ? 1 : 0);
