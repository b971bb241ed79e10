/**
 * `npm run bench -- stats`: what a stats query costs over a project with 10 million engagement
 * rows (target: p99 ≤ 200 ms). A fresh database of the shared PostgreSQL; one Herald process
 * (`--role all`, idle but for the API) started once the data is in.
 *
 * The data (bench/support/stats-seed.ts): one project in America/New_York, 50 campaigns over 90
 * days (a third of them A/B), 3 transactional groups sending all along, their messages, deliveries
 * and engagements, the ledgers' skips, and the hourly counters, written set-based. Before that, a
 * small second project's facts go one by one through Herald's own statements, and their counters
 * must equal what the set-based seed computes for them (bench/support/stats-replay.ts), or the run
 * stops.
 *
 * Measured, interleaved in rounds (so a change in the machine's load falls on every shape alike),
 * sequential requests through the real HTTP route with the project's REST key:
 *   baseline: one campaign's single hour (GET /v1/stats/campaigns/{id}?granularity=hour over one
 *     hour): a primary-key read of a few rows through the same route, auth and serialization;
 *   a campaign by day over 90 days, by hour over 31 days (the route's longest hourly range), each
 *     in the project's zone and in UTC; the campaigns taken in turn;
 *   the whole project (GET /v1/stats/project) the same four ways;
 *   the raw query cost: the store's read (store/stats.ts) of the project's heaviest shapes, called
 *     from this process over its own connection, without HTTP.
 * Reported per shape: p50, p99 and max latency, p99 beside the baseline's, Herald's and
 * PostgreSQL's CPU per request (this database's backends), the answer's size, and Herald's peak RSS.
 * Each shape's totals are checked once against a sum over stats_hourly.
 *
 * With --before DIR (another checkout of Herald, built: `npx tsc -p tsconfig.json` there), a
 * second Herald from DIR's build serves the same database, and every shape is measured on both in
 * the same rounds (the raw read through DIR's store/stats.ts too): before and after in one run.
 *
 * Options: --engagements N (10000000) --campaigns N (50) --iterations N per shape (200)
 *          --before DIR --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { freePort, peakRssMiB, spawnHerald } from './support/processes.js';
import { createScratchDatabase } from './support/databases.js';
import { createProjectAt } from './support/herald-roles.js';
import { cpuSeconds, cpuSecondsNamed, cpuDelta } from './support/cpu.js';
import { summarize } from './support/stats.js';
import { printTable, saveResult, type Row } from './support/report.js';
import { addSources, createGenerator, writeDeliveries, writeEngagements, writeRollup, type SeedSource } from './support/stats-seed.js';
import { replayAndCompare } from './support/stats-replay.js';
import { postgresStats, type StatsQuery, type StatsStore } from '../src/store/stats.js';

const { values } = parseArgs({
  options: {
    engagements: { type: 'string', default: '10000000' },
    campaigns: { type: 'string', default: '50' },
    iterations: { type: 'string', default: '200' },
    before: { type: 'string' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const engagementsWanted = Number(values.engagements);
const campaignCount = Number(values.campaigns);
const iterations = Number(values.iterations);
const beforeDir = values.before ? resolve(values.before) : undefined;
const zone = 'America/New_York';
const hour = 3600_000;
const day = 24 * hour;
/** Engagement rows per delivery the seed's rates come to (measured: about 0.91). */
const engagementsPerDelivery = 0.91;
/** Requests per shape in one round of the interleaving. */
const perRound = 10;

const until = Math.floor(Date.now() / hour) * hour;
const start = until - 90 * day;

console.log(`# stats benchmark: about ${engagementsWanted} engagement rows, ${campaignCount} campaigns over 90 days, ${iterations} requests per shape`);
const rows: Row[] = [];
const seedRows: Row[] = [];
const db = await createScratchDatabase(values['database-url'], 'stats');
const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const sql = postgres(db.url, { max: 1, onnotice: () => {} });
let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
let before: Awaited<ReturnType<typeof spawnHerald>> | undefined;
try {
  const { project_id, rest_key } = await createProjectAt(db.url, dataDir);
  await sql`update projects set timezone = ${zone} where id = ${project_id}`;
  await createGenerator(sql);

  // The seed checked against Herald's own statements on a small project first.
  const check = randomUUID();
  await sql`insert into projects (id, name, timezone) values (${check}, 'replay check', ${zone})`;
  await addSources(sql, check, [
    { kind: 'campaign', id: randomUUID(), n: 1000, t0: new Date(until - 10 * day + 9 * hour), windowSeconds: 7200, ab: true },
    { kind: 'campaign', id: randomUUID(), n: 1000, t0: new Date(until - 2 * day + 17 * hour), windowSeconds: 7200, ab: false },
    { kind: 'transactional', id: 'receipt', n: 600, t0: new Date(until - 5 * day), windowSeconds: 4 * 86400, ab: false },
  ], new Date(until));
  const t0 = performance.now();
  const replay = await replayAndCompare(sql, check);
  const replaySeconds = (performance.now() - t0) / 1000;
  const differences = Object.values(replay.differences).reduce((a, b) => a + b, 0);
  seedRows.push({
    step: 'check: Herald\'s statements vs the set-based seed', seconds: replaySeconds,
    rows: `${replay.deliveries} deliveries, ${replay.reports} reports → ${replay.engagementRows} engagements, ${replay.hourlyRows} hourly, ${replay.skipRows} skip rows`,
    note: differences ? `DIFFERENT: ${JSON.stringify(replay.differences)}` : 'equal (0 rows differ)',
  });
  if (differences) throw new Error(`the set-based seed differs from Herald's statements: ${JSON.stringify(replay)}`);
  await sql`delete from projects where id = ${check}`;

  // The project: campaigns every 1.7 days, 3 transactional groups all along (6% of deliveries).
  const deliveries = engagementsWanted / engagementsPerDelivery;
  const perCampaign = Math.max(100, Math.round((deliveries * 0.94) / campaignCount / 100) * 100);
  const perGroup = Math.max(100, Math.round((deliveries * 0.02) / 100) * 100);
  const campaignIds = Array.from({ length: campaignCount }, () => randomUUID());
  const sources: SeedSource[] = [
    ...campaignIds.map((id, c) => ({
      kind: 'campaign' as const, id, n: perCampaign, windowSeconds: 7200, ab: c % 3 === 0,
      t0: new Date(start + day + Math.floor((c * 84 * day) / campaignCount / hour) * hour + ((c * 7) % 12) * hour + 8 * hour),
    })),
    ...['receipt', 'password_reset', 'welcome'].map((id) => ({ kind: 'transactional' as const, id, n: perGroup, t0: new Date(start), windowSeconds: 90 * 86400 - 3600, ab: false })),
  ];
  await addSources(sql, project_id, sources, new Date(until));
  const timed = async (step: string, work: () => Promise<unknown>, table?: string) => {
    const t = performance.now();
    await work();
    const seconds = (performance.now() - t) / 1000;
    const [r] = table ? await sql<{ n: string }[]>`select count(*)::text as n from ${sql(table)}` : [undefined];
    seedRows.push({ step, seconds, rows: r?.n });
  };
  await sql`set work_mem = '256MB'`;
  await timed('campaigns, messages, deliveries', () => writeDeliveries(sql, project_id, { queued: false }), 'deliveries');
  await timed('engagements', () => writeEngagements(sql, project_id), 'engagements');
  await timed('hourly counters (stats_hourly)', () => writeRollup(sql, project_id, { hourly: 'stats_hourly', skips: 'stats_skips_hourly' }), 'stats_hourly');
  await timed('vacuum analyze (as autovacuum would)', () => sql`vacuum analyze messages, deliveries, engagements, campaign_messages, stats_hourly, stats_skips_hourly`);
  await sql`reset work_mem`;
  const [sizes] = await sql<{ engagements: string; stats: string; skips: string }[]>`
    select pg_size_pretty(pg_total_relation_size('engagements')) as engagements, pg_size_pretty(pg_total_relation_size('stats_hourly')) as stats,
           (select count(*)::text from stats_skips_hourly) as skips`;
  seedRows.push({ step: 'sizes', rows: `engagements ${sizes!.engagements}, stats_hourly ${sizes!.stats}, ${sizes!.skips} skip rows`,
    note: `${perCampaign} deliveries per campaign, ${perGroup} per transactional group` });

  herald = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--data-dir', dataDir], { NATS_URL: '' });
  if (beforeDir) {
    before = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--data-dir', dataDir], { NATS_URL: '' },
      { cli: join(beforeDir, 'dist', 'src', 'cli', 'main.js') });
  }
  const get = async (path: string, h = herald!) => {
    const res = await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${rest_key}` } });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${text}`);
    return text;
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  const range = (from: number, to: number) => `from=${iso(from)}&to=${iso(to)}`;
  const campaignAt = (k: number) => sources[k % campaignCount]!;
  const campaignHours = (k: number) => {
    const from = Math.max(start, campaignAt(k).t0.getTime() - day);
    return [from, from + 31 * day] as const;
  };
  const store = postgresStats(sql);
  const beforeStore = beforeDir
    ? ((await import(pathToFileURL(join(beforeDir, 'dist', 'src', 'store', 'stats.js')).href)) as { postgresStats: typeof postgresStats }).postgresStats(sql)
    : undefined;
  /** `pid`: the Herald process that serves it (none for a raw read); `before`: the same shape on the before build. */
  type Shape = { name: string; pid?: number; before?: boolean; run: (k: number) => Promise<number>; expect?: { path: string; where: StatsQuery } };
  const servers = [{ h: herald, label: '' }, ...(before ? [{ h: before, label: ' [before]' }] : [])];
  const http = (name: string, path: (k: number) => string, expect?: (k: number) => StatsQuery): Shape[] => servers.map(({ h, label }) => ({
    name: name + label, pid: h.child.pid!, before: h === before, run: async (k: number) => (await get(path(k), h)).length,
    ...(expect ? { expect: { path: path(0), where: expect(0) } } : {}),
  }));
  const raw = (name: string, query: () => StatsQuery): Shape[] => [{ s: store, label: '' }, ...(beforeStore ? [{ s: beforeStore, label: ' [before]' }] : [])]
    .map(({ s, label }: { s: StatsStore; label: string }) => ({ name: name + label, before: s === beforeStore, run: async () => (await s.buckets(query())).length }));
  const q = (k: number | undefined, from: number, to: number, granularity: 'hour' | 'day', timeZone: string): StatsQuery => ({
    projectId: project_id, source: k === undefined ? undefined : { kind: 'campaign', id: campaignAt(k).id },
    from: new Date(from), to: new Date(to), granularity, timeZone,
  });
  const shapes: Shape[] = [
    ...http('baseline: one campaign, one hour (primary key)', (k) => `/v1/stats/campaigns/${campaignAt(k).id}?granularity=hour&time_zone=UTC&${range(campaignAt(k).t0.getTime(), campaignAt(k).t0.getTime() + hour)}`),
    ...http('campaign by day, 90 days, project zone', (k) => `/v1/stats/campaigns/${campaignAt(k).id}?granularity=day&${range(start, until)}`, (k) => q(k, start, until, 'day', zone)),
    ...http('campaign by day, 90 days, UTC', (k) => `/v1/stats/campaigns/${campaignAt(k).id}?granularity=day&time_zone=UTC&${range(start, until)}`),
    ...http('campaign by hour, 31 days, project zone', (k) => `/v1/stats/campaigns/${campaignAt(k).id}?granularity=hour&${range(...campaignHours(k))}`, (k) => q(k, ...campaignHours(k), 'hour', zone)),
    ...http('campaign by hour, 31 days, UTC', (k) => `/v1/stats/campaigns/${campaignAt(k).id}?granularity=hour&time_zone=UTC&${range(...campaignHours(k))}`),
    ...http('project by day, 90 days, project zone', () => `/v1/stats/project?granularity=day&${range(start, until)}`, () => q(undefined, start, until, 'day', zone)),
    ...http('project by day, 90 days, UTC', () => `/v1/stats/project?granularity=day&time_zone=UTC&${range(start, until)}`),
    ...http('project by hour, 31 days, project zone', () => `/v1/stats/project?granularity=hour&${range(until - 31 * day, until)}`, () => q(undefined, until - 31 * day, until, 'hour', zone)),
    ...http('project by hour, 31 days, UTC', () => `/v1/stats/project?granularity=hour&time_zone=UTC&${range(until - 31 * day, until)}`),
    ...raw('raw store read: project by day, 90 days, project zone', () => q(undefined, start, until, 'day', zone)),
    ...raw('raw store read: project by hour, 31 days, project zone', () => q(undefined, until - 31 * day, until, 'hour', zone)),
  ];

  // Each checked shape's totals against a sum over stats_hourly for its range.
  for (const s of shapes) {
    if (!s.expect) continue;
    const body = JSON.parse(await get(s.expect.path, s.before ? before! : herald)) as { totals: Record<string, number>; buckets: unknown[] };
    const w = s.expect.where;
    const [sum] = await sql<{ sent: number; opens_unique: number; clicks_total: number; skipped: number }[]>`
      select coalesce(sum(sent), 0)::int as sent, coalesce(sum(opens_unique), 0)::int as opens_unique,
             coalesce(sum(clicks_total), 0)::int as clicks_total, coalesce(sum(skipped), 0)::int as skipped
        from stats_hourly where project_id = ${project_id} and hour >= ${w.from} and hour < ${w.to}
        ${w.source ? sql`and source_kind = 'campaign' and source_id = ${w.source.id}` : sql``}`;
    const got = { sent: body.totals.sent, opens_unique: body.totals.opens_unique, clicks_total: body.totals.clicks_total, skipped: body.totals.skipped };
    if (JSON.stringify(got) !== JSON.stringify(sum)) throw new Error(`${s.name}: the route answered ${JSON.stringify(got)}, stats_hourly sums to ${JSON.stringify(sum)}`);
    if (!sum!.sent) throw new Error(`${s.name}: nothing in range`);
  }

  const ours = (argv: string[]) => argv.join(' ').includes(db.name);
  const stat = shapes.map(() => ({ ms: [] as number[], herald: 0, pg: 0, bytes: 0 }));
  for (const s of shapes) for (let k = 0; k < 5; k++) await s.run(k); // warm: plans, caches, JIT of the route
  for (let round = 0; round < Math.ceil(iterations / perRound); round++) {
    for (const [i, s] of shapes.entries()) {
      const h0 = s.pid ? (await cpuSeconds(s.pid))! : 0;
      const p0 = await cpuSecondsNamed('postgres', ours);
      for (let j = 0; j < perRound; j++) {
        const k = round * perRound + j;
        const t = performance.now();
        stat[i]!.bytes = await s.run(k);
        stat[i]!.ms.push(performance.now() - t);
      }
      stat[i]!.herald += s.pid ? (await cpuSeconds(s.pid))! - h0 : 0;
      stat[i]!.pg += cpuDelta(p0, await cpuSecondsNamed('postgres', ours));
    }
  }
  // Each shape beside the baseline of its own build, and an after shape beside its before.
  const baseOf = (s: Shape) => summarize(stat[shapes.findIndex((b) => b.before === s.before)]!.ms);
  for (const [i, s] of shapes.entries()) {
    const r = summarize(stat[i]!.ms);
    const base = baseOf(s);
    const b = before && !s.before ? shapes.findIndex((x) => x.name === `${s.name} [before]`) : -1;
    const was = b >= 0 ? summarize(stat[b]!.ms) : undefined;
    rows.push({
      shape: s.name, requests: r.n, 'p50 ms': r.p50, 'p99 ms': r.p99, 'max ms': r.max,
      'p99 ÷ baseline p99': s.name.startsWith('baseline') ? '1' : `${(r.p99 / base.p99).toFixed(1)}×`,
      ...(was ? { 'p50, p99 ÷ before': `${(r.p50 / was.p50).toFixed(2)}, ${(r.p99 / was.p99).toFixed(2)}` } : {}),
      'Herald CPU ms/req': s.pid ? (stat[i]!.herald * 1000) / r.n : undefined,
      'PostgreSQL CPU ms/req': (stat[i]!.pg * 1000) / r.n,
      answer: s.pid ? `${(stat[i]!.bytes / 1024).toFixed(0)} KiB` : `${stat[i]!.bytes} buckets`,
      'target p99 ≤ 200 ms': s.name.startsWith('baseline') ? undefined : r.p99 <= 200 ? 'met' : 'not met',
    });
  }
  rows.push({ shape: `Herald peak RSS ${(await peakRssMiB(herald.child.pid!))!.toFixed(0)} MiB`
    + (before ? `; before: ${(await peakRssMiB(before.child.pid!))!.toFixed(0)} MiB` : '') });
} finally {
  await herald?.stop();
  await before?.stop();
  await sql.end({ timeout: 5 });
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
printTable(seedRows);
console.log('');
printTable(rows);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores)`);
console.log(`results: ${await saveResult('stats', { engagements: engagementsWanted, campaigns: campaignCount, iterations, before: beforeDir, seed: seedRows, rows, loadavg: loadavg() })}`);
process.exit(0);
