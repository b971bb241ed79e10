/**
 * `npm run bench -- campaign`: a campaign to a large audience, on one Herald process (`--role all`,
 * the PostgreSQL queue) over a fresh database of the shared PostgreSQL, to the sandbox's APNs
 * simulator in its own process.
 *
 *  (1) N profiles with attributes, events and an iOS installation each, written with COPY
 *      (bench/support/campaign-profiles.ts), then ANALYZE.
 *  (2) The exact count of a saved segment matching half of them (POST /v1/segments/{id}/count),
 *      twice: the first on a cold cache. Target ≤ 1 s.
 *  (3) The fan-out alone: a campaign `at` an instant 9 minutes ahead is planned at once (the
 *      scheduler plans 10 minutes ahead) and its audience streamed into the ledger with nothing
 *      due yet: ledger rows written per second, from the occurrence's planned_at to the state
 *      leaving fanning_out (polled every 100 ms). Target ≥ 50,000/s. Then the ledger's size per
 *      million recipients (pg_total_relation_size of campaign_recipients' partitions), and the
 *      campaign is stopped (its pending rows skipped) before (4) starts.
 *  (4) The whole campaign, sent now to the same segment: from the start call to the last delivery
 *      the simulator accepted (Herald's deliveries turned `sent`, polled every 250 ms, then checked
 *      against the simulator's records), beside Herald's bare APNs sender driven straight at the
 *      same simulator in the same run (as bench/transactional.ts phase (c)). Target ≥ 60%.
 *  Herald's peak RSS (VmHWM of its process) over the run. Target ≤ 300 MB.
 *
 * Options: --profiles N (1000000) --ceiling-pushes N (50000)
 *          --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { linkSandbox } from '../src/sandbox-link.js';
import { freePort, peakRssMiB, spawnHerald, spawnSandbox } from './support/processes.js';
import { createScratchDatabase } from './support/databases.js';
import { createProjectAt } from './support/herald-roles.js';
import { cpuSeconds } from './support/cpu.js';
import { ceilingWith } from './support/ceiling.js';
import { heraldSender } from './support/herald-senders.js';
import { allRecords, clearDeliveries } from './support/sandbox-records.js';
import { loadProfiles, segmentQuery } from './support/campaign-profiles.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    'ceiling-pushes': { type: 'string', default: '50000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const profiles = Number(values.profiles);
const ceilingPushes = Number(values['ceiling-pushes']);

const push = { title: 'Hello {{ tier | default: "friend" }}', body: 'Our campaign benchmark, for {{ tier }} members' };

/** Polls `probe` every `everyMs` until it returns a value; that value and when it came. */
async function until<T>(probe: () => Promise<T | undefined>, everyMs: number, timeoutMs: number, what: string): Promise<{ value: T; at: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return { value: v, at: Date.now() };
    if (Date.now() > deadline) throw new Error(`${what}: not done in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Bytes of the ledger: every partition of campaign_recipients with its indexes and TOAST. */
async function ledgerBytes(sql: postgres.Sql): Promise<{ bytes: number; rows: number }> {
  const [r] = await sql<{ bytes: string; rows: number }[]>`
    select coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::text as bytes, (select count(*)::int from campaign_recipients) as rows
      from pg_inherits i where i.inhparent = 'campaign_recipients'::regclass`;
  return { bytes: Number(r!.bytes), rows: r!.rows };
}

const mib = (bytes: number) => bytes / 2 ** 20;

console.log(`# campaign benchmark: ${profiles} profiles, ${ceilingPushes} pushes for the bare sender's ceiling`);
const rows: Row[] = [];
const sandbox = await spawnSandbox();
const db = await createScratchDatabase(values['database-url'], 'campaign');
const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
try {
  herald = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--sandbox-url', sandbox.url, '--data-dir', dataDir],
    { NATS_URL: '' });
  const { project_id, rest_key } = await createProjectAt(db.url, dataDir);
  const startRss = (await peakRssMiB(herald.child.pid!))!;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${herald!.url}${path}`, {
      method, headers: { authorization: `Bearer ${rest_key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };

  // (1) the profiles
  const loaded = await loadProfiles(sql, project_id, profiles, Date.now());
  const loadSeconds = Object.values(loaded.seconds).reduce((a, b) => a + b, 0);
  rows.push({
    phase: '(1) COPY profiles, events, installations', count: profiles, seconds: loadSeconds, 'rows/s': (profiles * 2 + loaded.events) / loadSeconds,
    note: `${loaded.events} events; ${Object.entries(loaded.seconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`,
  });

  // (2) the segment's exact count
  const segment = await call('POST', '/v1/segments', { name: 'half', query: segmentQuery });
  const counts = [];
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const c = await call('POST', `/v1/segments/${segment.id as string}/count`) as { count: number; took_ms: number };
    counts.push({ ...c, wall: performance.now() - t0 });
  }
  const audience = counts[0]!.count;
  counts.forEach((c, i) => rows.push({
    phase: `(2) segment count, ${i ? 'again (warm)' : 'first'}`, count: c.count, 'ms': c.took_ms,
    ratio: `${((c.count / profiles) * 100).toFixed(1)}% of profiles; target ≤ 1000 ms: ${c.took_ms <= 1000 ? 'met' : 'not met'}`,
    note: `${c.wall.toFixed(0)} ms over HTTP`,
  }));

  // (3) the fan-out alone, into a ledger with nothing due yet
  const base = { targeting: { segment_id: segment.id }, channels: ['push'], content: { push }, start: true };
  const later = await call('POST', '/v1/campaigns', { ...base, name: 'fan-out only', when: { type: 'at', instant: new Date(Date.now() + 9 * 60_000).toISOString() } });
  const fanned = await until(async () => {
    const [o] = await sql<{ state: string; targeted: number; planned_at: Date }[]>`
      select state, targeted, planned_at from campaign_occurrences where campaign_id = ${later.id as string}`;
    return o && o.state !== 'fanning_out' ? o : undefined;
  }, 100, 900_000, 'the fan-out');
  const fanoutSeconds = (fanned.at - fanned.value.planned_at.getTime()) / 1000;
  const fanoutRate = fanned.value.targeted / fanoutSeconds;
  rows.push({
    phase: '(3) fan-out: segment → ledger', count: fanned.value.targeted, seconds: fanoutSeconds, 'rows/s': fanoutRate,
    ratio: `target ≥ 50,000/s: ${fanoutRate >= 50_000 ? 'met' : 'not met'}`, note: 'nothing due: no sends meanwhile',
  });
  const fresh = await ledgerBytes(sql);
  rows.push({
    phase: '(3) ledger size, rows just written', count: fresh.rows, 'MiB': mib(fresh.bytes), 'MiB per million': mib(fresh.bytes) / fresh.rows * 1e6,
    note: 'campaign_recipients partitions, indexes and TOAST',
  });
  await call('POST', `/v1/campaigns/${later.id as string}/stop`);
  await until(async () => {
    const [o] = await sql<{ state: string }[]>`select state from campaign_occurrences where campaign_id = ${later.id as string}`;
    return o?.state === 'stopped' ? true : undefined;
  }, 250, 300_000, 'stopping the fan-out campaign');

  // The bare sender's ceiling, Herald idle (its scheduler's look once a second aside).
  const link = await linkSandbox(sandbox.url);
  const bare = await ceilingWith(await heraldSender('apns', link), ceilingPushes);
  if (bare.failures) throw new Error(`${bare.failures} pushes failed in the ceiling run, the first: ${bare.first}`);
  await clearDeliveries(sandbox.url);

  // (4) the whole campaign, now
  const heraldCpu0 = (await cpuSeconds(herald.child.pid!)) ?? NaN;
  const started = Date.now();
  const now = await call('POST', '/v1/campaigns', { ...base, name: 'now', when: { type: 'now' } });
  let fanoutDone: number | undefined;
  const done = await until(async () => {
    if (fanoutDone === undefined) {
      const [o] = await sql<{ state: string }[]>`select state from campaign_occurrences where campaign_id = ${now.id as string}`;
      if (o && o.state !== 'fanning_out') fanoutDone = Date.now();
    }
    const [d] = await sql<{ sent: number; other: number }[]>`
      select count(*) filter (where status = 'sent')::int as sent, count(*) filter (where status not in ('sent', 'queued'))::int as other from deliveries`;
    return d!.sent + d!.other >= audience ? d! : undefined;
  }, 250, 1_800_000, 'the campaign\'s deliveries');
  const e2eSeconds = (done.at - started) / 1000;
  const heraldCpu = ((await cpuSeconds(herald.child.pid!)) ?? NaN) - heraldCpu0;
  const simulator = (await allRecords(sandbox.url, audience)).length;
  const e2eRate = done.value.sent / e2eSeconds;
  rows.push({
    phase: '(4) campaign end to end: start → simulator', count: done.value.sent, seconds: e2eSeconds, 'deliveries/s': e2eRate,
    ratio: `${((e2eRate / bare.rate) * 100).toFixed(0)}% of the bare sender (target ≥ 60%)`,
    note: `${simulator}/${audience} in the simulator's records, ${done.value.other} not sent; fan-out done after ${(((fanoutDone ?? done.at) - started) / 1000).toFixed(1)} s; `
      + `Herald CPU ${(heraldCpu * 1000 / done.value.sent).toFixed(3)} ms/delivery`,
  });
  rows.push({ phase: '(4) bare sender: Herald\'s APNs sender straight to the simulator', count: ceilingPushes, 'deliveries/s': bare.rate, note: '500 in flight, bench process' });
  const t0 = performance.now();
  const view = await call('GET', `/v1/campaigns/${now.id as string}`) as { state: string; counts: { recipients: Record<string, number> } };
  rows.push({
    phase: '(4) GET /v1/campaigns/{id} (counts from the ledger)', 'ms': performance.now() - t0,
    note: `state ${view.state}; recipients ${JSON.stringify(view.counts.recipients)}`,
  });
  const final = await ledgerBytes(sql);
  rows.push({
    phase: '(4) ledger size after both campaigns', count: final.rows, 'MiB': mib(final.bytes), 'MiB per million': mib(final.bytes) / final.rows * 1e6,
    note: 'every row updated once (sent, or skipped by the stop): dead tuples until vacuum',
  });
  const rss = (await peakRssMiB(herald.child.pid!))!;
  rows.push({
    phase: 'Herald process (role all), whole run', 'peak RSS MiB': rss, ratio: `target ≤ 300 MB: ${rss * 2 ** 20 <= 300e6 ? 'met' : 'not met'}`,
    note: `peak ${startRss.toFixed(0)} MiB once started, before any campaign`,
  });
  rows.push({ phase: 'sandbox process', 'peak RSS MiB': await peakRssMiB(sandbox.child.pid!) });
} finally {
  await herald?.stop();
  await sandbox.stop();
  await sql.end({ timeout: 5 });
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
printTable(rows);
// The machine is shared: its load says how far these figures are from an idle machine's.
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores)`);
console.log(`results: ${await saveResult('campaign', { profiles, rows, loadavg: loadavg() })}`);
process.exit(0);
