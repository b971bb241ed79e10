/**
 * `npm run bench -- exports`: a million-row export in constant memory. One Herald process
 * (`--role all`, the PostgreSQL queue) over a fresh database of the shared PostgreSQL; N profiles
 * from bench/support/campaign-profiles.ts written with COPY; then `POST /v1/exports` of every
 * profile (native fields and all attributes), as CSV and then as NDJSON, each timed from the call
 * to `done`, and the file fetched through its signed link and its lines counted.
 *
 * Memory is Herald's resident set sampled every 100 ms (VmRSS) while each export runs, beside the
 * same process's resident set just before it started: a file written page by page adds the pages'
 * size, never the file's.
 *
 * Options: --profiles N (1000000) --database-url URL (postgres://postgres@127.0.0.1:5432/postgres)
 */
import { readFile, mkdtemp, rm, chmod } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { freePort, peakRssMiB, spawnHerald } from './support/processes.js';
import { createScratchDatabase } from './support/databases.js';
import { createProjectAt } from './support/herald-roles.js';
import { cpuSeconds } from './support/cpu.js';
import { loadProfiles } from './support/campaign-profiles.js';
import { printTable, saveResult, type Row } from './support/report.js';

const { values } = parseArgs({
  options: {
    profiles: { type: 'string', default: '1000000' },
    'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
const profiles = Number(values.profiles);

/** Resident memory now, in MiB (VmRSS), or undefined when the process is gone. */
async function rssMiB(pid: number): Promise<number | undefined> {
  const kb = (await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.match(/^VmRSS:\s+(\d+) kB/m)?.[1];
  return kb ? Number(kb) / 1024 : undefined;
}

console.log(`# exports benchmark: ${profiles} profiles`);
const rows: Row[] = [];
const db = await createScratchDatabase(values['database-url'], 'exports');
const dataDir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
await chmod(dataDir, 0o755);
const sql = postgres(db.url, { max: 2, onnotice: () => {} });
let herald: Awaited<ReturnType<typeof spawnHerald>> | undefined;
try {
  herald = await spawnHerald(['--port', String(await freePort()), '--database-url', db.url, '--data-dir', dataDir], { NATS_URL: '' });
  const pid = herald.child.pid!;
  const { project_id, rest_key } = await createProjectAt(db.url, dataDir);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${herald!.url}${path}`, {
      method, headers: { authorization: `Bearer ${rest_key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };
  await loadProfiles(sql, project_id, profiles, Date.now());

  for (const format of ['csv', 'ndjson'] as const) {
    const before = (await rssMiB(pid))!;
    const cpu0 = (await cpuSeconds(pid))!;
    const t0 = performance.now();
    const started = await call('POST', '/v1/exports', { kind: 'profiles', format });
    let peak = before;
    let view: Record<string, unknown>;
    for (;;) {
      peak = Math.max(peak, (await rssMiB(pid)) ?? 0);
      view = await call('GET', `/v1/exports/${started.id as string}`);
      if (view.state === 'done' || view.state === 'failed') break;
      if (performance.now() - t0 > 1_800_000) throw new Error(`the ${format} export is not done in 30 minutes: ${JSON.stringify(view)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(pid))! - cpu0;
    if (view.state !== 'done') throw new Error(`the ${format} export failed: ${JSON.stringify(view)}`);
    // The file through its signed link (`download.url`: absolute when a public URL is configured,
    // else a path), streamed: only its lines are counted here.
    const link = (view.download as { url: string } | null)?.url;
    if (!link) throw new Error(`the ${format} export is done but has no download link: ${JSON.stringify(view)}`);
    const res = await fetch(new URL(link.replace(/^https?:\/\/[^/]+/, ''), herald.url));
    if (!res.ok || !res.body) throw new Error(`the file answered ${res.status}`);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of res.body) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
    }
    const expected = profiles + (format === 'csv' ? 1 : 0);
    rows.push({
      phase: `profiles as ${format}`, rows: Number(view.rows), seconds, 'rows/s': Number(view.rows) / seconds, 'file MiB': bytes / 2 ** 20,
      'RSS before MiB': before, 'RSS peak MiB': peak, 'RSS added MiB': peak - before, 'Herald CPU µs/row': (cpu / Number(view.rows)) * 1e6,
      note: `${lines} lines fetched (${lines === expected ? 'as expected' : `expected ${expected}`})`,
    });
  }
  rows.push({ phase: 'Herald process, whole run', 'RSS peak MiB': (await peakRssMiB(pid))! });
} finally {
  await herald?.stop();
  await sql.end({ timeout: 5 });
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
}
printTable(rows);
console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores)`);
console.log(`results: ${await saveResult('exports', { profiles, rows, loadavg: loadavg() })}`);
process.exit(0);
