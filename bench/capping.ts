/**
 * `npm run bench -- capping`: what frequency capping costs a campaign. One Herald process
 * (`--role all`, the PostgreSQL queue) over a fresh database of the shared PostgreSQL, to the
 * sandbox's APNs simulator in its own process; N profiles from bench/support/campaign-profiles.ts
 * (its segment matches half of them: 100,000 recipients at the default 200,000).
 *
 * The same campaign to the same segment is sent now three times, each timed from the start call to
 * the moment every recipient's ledger row was sent and none of its deliveries is still `queued`
 * (recipients per second):
 *   (a) with no capping rule;
 *   (b) with two rules that every send passes but each must check and reserve: marketing push at
 *       most 10 a day, and the campaign's label at most 20 a week (so every recipient is counted,
 *       serialised per profile, in the fan-out's transaction);
 *   (c) with no rule again (the rules deleted), so the baseline is taken on both sides of (b)
 *       and the database's growth between runs is not charged to capping.
 * Reported: recipients/s of each, (b) beside the mean of (a) and (c) (target: ≤ 20% slower), and
 * Herald's CPU per recipient.
 *
 * Options: --profiles N (200000) --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { freePort, peakRssMiB, spawnHerald, spawnSandbox } from './support/processes.js';
import { createScratchDatabase } from './support/databases.js';
import { createProjectAt } from './support/herald-roles.js';
import { cpuSeconds } from './support/cpu.js';
import { clearDeliveries } from './support/sandbox-records.js';
import { loadProfiles, segmentQuery } from './support/campaign-profiles.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '200000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const profiles = Number(values.profiles);
const push = { title: 'Hello {{ tier | default: "friend" }}', body: 'Our capping benchmark' };
const rules = [
  { name: 'ten marketing pushes a day', scope: 'marketing', channels: ['apns', 'fcm', 'webpush'], max_sends: 10, window_amount: 1, window_unit: 'days', action: 'skip' },
  { name: 'twenty promos a week', scope: 'label', label: 'promo', max_sends: 20, window_amount: 7, window_unit: 'days', action: 'skip' },
];

console.log(`# capping benchmark: ${profiles} profiles, the segment matches about half`);
const rows: Row[] = [];
const sandbox = await spawnSandbox();
const db = await createScratchDatabase(values['database-url'], 'capping');
const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
try {
  herald = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--sandbox-url', sandbox.url, '--data-dir', dataDir],
    { NATS_URL: '' });
  const { project_id, rest_key } = await createProjectAt(db.url, dataDir);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${herald!.url}${path}`, {
      method, headers: { authorization: `Bearer ${rest_key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = res.status === 204 ? {} : (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  await loadProfiles(sql, project_id, profiles, Date.now());
  const segment = await call('POST', '/v1/segments', { name: 'half', query: segmentQuery });
  const audience = (await call('POST', `/v1/segments/${segment.id as string}/count`) as { count: number }).count;

  /** One campaign to the segment, now: its deliveries/s and Herald's CPU per delivery. */
  const send = async (name: string) => {
    await clearDeliveries(sandbox.url);
    const cpu0 = (await cpuSeconds(herald!.child.pid!)) ?? NaN;
    const t0 = Date.now();
    const c = await call('POST', '/v1/campaigns', {
      name, labels: ['promo'], targeting: { segment_id: segment.id }, channels: ['push'], content: { push }, when: { type: 'now' }, start: true,
    });
    const id = c.id as string;
    for (;;) {
      const [l] = await sql<{ total: number; pending: number; skipped: number }[]>`
        select count(*)::int as total, count(*) filter (where status = 'pending')::int as pending, count(*) filter (where status = 'skipped')::int as skipped
          from campaign_recipients where campaign_id = ${id}`;
      const [d] = await sql<{ queued: number; sent: number; other: number }[]>`
        select count(*) filter (where d.status = 'queued')::int as queued, count(*) filter (where d.status = 'sent')::int as sent,
               count(*) filter (where d.status not in ('queued', 'sent'))::int as other
          from deliveries d join campaign_messages cm on cm.message_id = d.message_id where cm.campaign_id = ${id}`;
      if (l!.total >= audience && l!.pending === 0 && d!.queued === 0) {
        const seconds = (Date.now() - t0) / 1000;
        const cpu = ((await cpuSeconds(herald!.child.pid!)) ?? NaN) - cpu0;
        const n = l!.total;
        return { seconds, rate: n / seconds, sent: d!.sent, skipped: l!.skipped + d!.other, cpuMs: (cpu * 1000) / n };
      }
      if (Date.now() - t0 > 1_800_000) throw new Error(`${name}: not done in 30 minutes: ${JSON.stringify(d)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const a = await send('no rules (a)');
  const made: string[] = [];
  for (const r of rules) made.push((await call('POST', '/v1/cappings', r)).id as string);
  const b = await send('two rules (b)');
  for (const id of made) await call('DELETE', `/v1/cappings/${id}`);
  const c = await send('no rules again (c)');
  const baseline = (a.rate + c.rate) / 2;
  const slower = (1 - b.rate / baseline) * 100;
  for (const [phase, r] of [['(a) no capping rule', a], ['(b) two rules, every send checked and counted', b], ['(c) no capping rule again', c]] as const) {
    rows.push({ phase, sent: r.sent, skipped: r.skipped, seconds: r.seconds, 'recipients/s': r.rate, 'Herald CPU ms/recipient': r.cpuMs });
  }
  rows.push({
    phase: '(b) beside the mean of (a) and (c)',
    ratio: `${slower.toFixed(0)}% slower (target ≤ 20%: ${slower <= 20 ? 'met' : 'not met'})`,
    note: `audience ${audience}; Herald peak RSS ${(await peakRssMiB(herald.child.pid!))!.toFixed(0)} MiB`,
  });
} finally {
  await herald?.stop();
  await sandbox.stop();
  await sql.end({ timeout: 5 });
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
printTable(rows);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores)`);
console.log(`results: ${await saveResult('capping', { profiles, rows, loadavg: loadavg() })}`);
process.exit(0);
