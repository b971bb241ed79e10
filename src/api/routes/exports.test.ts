import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, appendFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { testDatabase, type TestDatabase } from '../../../test/support/database.js';
import { testMasterKey } from '../../../test/support/keyring.js';
import { testClock } from '../../../test/support/clock.js';
import { silentLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { createEvents } from '../../worker/events.js';
import { createPostgresQueue } from '../../queue/postgres/queue.js';
import type { Job, WorkQueue } from '../../queue/queue.js';
import { createProject, type CreatedProject } from '../../store/projects.js';
import { exportFilePath } from '../../store/export-files.js';
import { exportHandler } from '../../worker/export-run.js';
import { topics } from '../../worker/topics.js';
import { buildApp } from '../app.js';

// Exports through the whole app and the worker's page handler, on real PostgreSQL and real files.
const { keyring } = testMasterKey();
const clock = testClock();
const pageRows = 7_000;
let db: TestDatabase;
let queue: WorkQueue;
let app: FastifyInstance;
let project: CreatedProject;
let other: CreatedProject;
let dir: string;
let runPage: (jobs: Job[]) => Promise<void>;

before(async () => {
  db = await testDatabase();
  dir = await mkdtemp(join(tmpdir(), 'herald-exports-'));
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 3, clock });
  app = await buildApp({
    keyring, sql: db.sql, queue, log: silentLogger(), metrics: createMetrics({ events: createEvents(), queue }), checkResponses: true,
    unsubscribeSecret: randomBytes(32), exportsDir: dir, publicUrl: 'https://herald.example', clock,
  });
  runPage = exportHandler({ sql: db.sql, queue, clock, exportsDir: dir, pageRows });
  project = await createProject(db.sql, 'exports', keyring);
  other = await createProject(db.sql, 'other', keyring);
  // 25,000 profiles; every third is gold; a few hold what CSV must quote or defuse.
  await db.sql`
    insert into profiles (project_id, custom_id, email, language, attributes)
    select ${project.project_id}, 'u' || lpad(i::text, 6, '0'), 'u' || i || '@example.com', 'fr',
           jsonb_build_object('tier', case when i % 3 = 0 then 'gold' else 'silver' end, 'score', i - 100,
             'note', case when i = 1 then '=HYPERLINK("http://evil")' when i = 2 then 'a, "quoted"' || chr(10) || 'line' else 'plain' end)
    from generate_series(1, 25000) i`;
  await db.sql`insert into profiles (project_id, custom_id) values (${other.project_id}, 'theirs')`;
  await db.sql`
    insert into events (project_id, id, custom_id, name, time, attributes)
    select ${project.project_id}, ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'u' || lpad(i::text, 6, '0'),
           case when i % 2 = 0 then 'purchase' else 'view' end, '2026-11-01T00:00:00Z'::timestamptz + i * interval '1 minute', '{"amount": 5}'
    from generate_series(1, 3000) i`;
});
after(async () => {
  await app.close();
  await queue.close();
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

const call = (method: 'GET' | 'POST', url: string, payload?: unknown, p: CreatedProject = project) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${p.rest_key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });

/** Runs the export's pages as the worker would, one claimed job at a time, until none is left. */
async function drain(): Promise<number> {
  let pages = 0;
  for (;;) {
    const jobs = await queue.claim(topics.exportPage, { max: 1, leaseMs: 30_000, waitMs: 0 });
    if (!jobs.length) return pages;
    await runPage(jobs);
    pages += jobs.length;
  }
}
const download = (url: string) => app.inject({ method: 'GET', url: url.replace('https://herald.example', '') });

test('a profiles export is written page by page, counted, and fetched as RFC 4180 CSV through its signed link', async () => {
  const created = await call('POST', '/v1/exports', { kind: 'profiles', format: 'csv', query: { attribute: 'tier', eq: 'gold' }, attributes: ['tier', 'score', 'note'] });
  assert.equal(created.statusCode, 202, created.body);
  const e = created.json();
  assert.equal(e.state, 'running');
  assert.equal(e.download, null);
  assert.equal(await drain(), 2); // 8,333 gold profiles: one full page, then the rest
  const done = (await call('GET', `/v1/exports/${e.id}`)).json();
  assert.equal(done.state, 'done');
  assert.equal(done.total, 8333);
  assert.equal(done.rows, 8333);
  assert.match(done.download.url, /^https:\/\/herald\.example\/v1\/exports\/.+\/file\?expires=\d+&signature=/);

  const file = await download(done.download.url);
  assert.equal(file.statusCode, 200, file.body);
  assert.equal(file.headers['content-type'], 'text/csv; charset=utf-8');
  assert.match(String(file.headers['content-disposition']), /attachment; filename="herald-profiles-.+\.csv"/);
  const lines = file.body.split('\r\n');
  assert.equal(lines[0], 'custom_id,email,phone,language,region,timezone,email_subscription,sms_subscription,created_at,updated_at,attributes.tier,attributes.score,attributes.note');
  assert.equal(lines.length, 8333 + 2, 'a header, a line per row, and the last CRLF');
  assert.match(lines[1]!, /^u000003,u3@example.com,,fr,,,,,[^,]+,[^,]+,gold,-97,plain$/);
  const ids = lines.slice(1, -1).map((l) => l.split(',')[0]);
  assert.equal(new Set(ids).size, 8333, 'every row once');
  assert.equal(Number(file.headers['content-length']), done.bytes);

  // A link edited to another export or a later expiry is refused; an expired one says so.
  const url = new URL(done.download.url);
  const later = new URL(url); later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
  assert.equal((await download(later.toString())).json().error.code, 'export_link_invalid');
  const forged = new URL(url); forged.searchParams.set('signature', 'A'.repeat(22));
  assert.equal((await download(forged.toString())).statusCode, 403);
  clock.advance(3601_000);
  const expired = await download(done.download.url);
  assert.equal(expired.statusCode, 410);
  assert.equal(expired.json().error.code, 'export_link_expired');
  // A fresh link works again.
  const again = (await call('GET', `/v1/exports/${e.id}?link_seconds=120`)).json();
  assert.equal((await download(again.download.url)).statusCode, 200);
});

test('CSV quotes what RFC 4180 says and defuses what a spreadsheet would run; NDJSON keeps the attributes chosen', async () => {
  const csv = (await call('POST', '/v1/exports', { kind: 'segment_members', format: 'csv', segment_id: await savedSegment(), attributes: ['note'] })).json();
  await drain();
  const body = (await download((await call('GET', `/v1/exports/${csv.id}`)).json().download.url)).body;
  assert.ok(body.startsWith('custom_id,attributes.note\r\nu000001,"\'=HYPERLINK(""http://evil"")"\r\nu000002,"a, ""quoted""\nline"\r\n'), body.slice(0, 120));

  const nd = (await call('POST', '/v1/exports', { kind: 'profiles', format: 'ndjson', attributes: ['score'] })).json();
  assert.equal(await drain(), 4); // 25,000 rows: 3 full pages and the rest
  const done = (await call('GET', `/v1/exports/${nd.id}`)).json();
  const file = await download(done.download.url);
  assert.equal(file.headers['content-type'], 'application/x-ndjson');
  const rows = file.body.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 25_000, 'only this project\'s profiles');
  assert.deepEqual(rows[0].attributes, { score: -99 });
  assert.equal(rows[0].custom_id, 'u000001');
  assert.ok(!rows.some((r) => r.custom_id === 'theirs'));
});

async function savedSegment(): Promise<string> {
  const r = await call('POST', '/v1/segments', { name: `first two ${Math.random()}`, query: { attribute: 'score', lt: -97 } });
  assert.equal(r.statusCode, 201, r.body);
  return r.json().id;
}

test('a page written by a worker that died before its commit is cut off, and a page done twice is written once', async () => {
  const e = (await call('POST', '/v1/exports', { kind: 'events', format: 'ndjson', names: ['purchase'] })).json();
  // Page 0, then its job handed out again (a redelivery): nothing more is written.
  const [first] = await queue.claim(topics.exportPage, { max: 1, leaseMs: 30_000, waitMs: 0 });
  await runPage([first!]);
  const row = await db.sql`select bytes::int as bytes, page from exports where id = ${e.id}`;
  await runPage([{ ...first!, id: 'redelivered' }]).catch(() => undefined);
  assert.deepEqual(await db.sql`select bytes::int as bytes, page from exports where id = ${e.id}`, row);
  // 1,500 purchases fit one page: the export is done. Garbage a dead writer left past the committed length is never served.
  const path = exportFilePath(dir, { id: e.id, project_id: project.project_id, format: 'ndjson' });
  await appendFile(path, '{"half a row');
  const done = (await call('GET', `/v1/exports/${e.id}`)).json();
  assert.equal(done.state, 'done');
  assert.equal(done.rows, 1500);
  const file = await download(done.download.url);
  const rows = file.body.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 1500);
  assert.ok(rows.every((r) => r.name === 'purchase'));

  // A multi-page export whose second page is re-run after a crash wrote half of it: the file is cut back first.
  const big = (await call('POST', '/v1/exports', { kind: 'profiles', format: 'ndjson' })).json();
  const [p0] = await queue.claim(topics.exportPage, { max: 1, leaseMs: 30_000, waitMs: 0 });
  await runPage([p0!]);
  const bigPath = exportFilePath(dir, { id: big.id, project_id: project.project_id, format: 'ndjson' });
  await appendFile(bigPath, '{"custom_id":"u999999"}\n{"broken');
  await drain();
  const text = await readFile(bigPath, 'utf8');
  const ids = text.trimEnd().split('\n').map((l) => JSON.parse(l).custom_id);
  assert.equal(ids.length, 25_000);
  assert.equal(new Set(ids).size, 25_000);
  assert.ok(!ids.includes('u999999'));
});

test('exports are the project\'s own, and bad requests are 400s naming the field that change nothing', async () => {
  const e = (await call('POST', '/v1/exports', { kind: 'profiles', format: 'csv' })).json();
  assert.equal((await call('GET', `/v1/exports/${e.id}`, undefined, other)).json().error.code, 'export_not_found');
  assert.deepEqual((await call('GET', '/v1/exports', undefined, other)).json().exports, []);
  const before = (await db.sql`select count(*)::int as n from exports`)[0]!.n;
  const bad = [
    [{ kind: 'profiles', format: 'csv', campaign_id: 'x' }, 'invalid_export', /body\.campaign_id/],
    [{ kind: 'segment_members', format: 'csv' }, 'invalid_export', /segment_id is required/],
    [{ kind: 'campaign_recipients', format: 'csv', campaign_id: '00000000-0000-7000-8000-000000000000' }, 'campaign_not_found', /no campaign/],
    [{ kind: 'profiles', format: 'csv', query: { attribute: 'tier', bogus: 1 } }, 'invalid_query', /body\.query/],
    [{ kind: 'events', format: 'xml' }, 'invalid_field', /format/],
  ] as const;
  for (const [body, code, message] of bad) {
    const r = await call('POST', '/v1/exports', body);
    assert.equal(r.statusCode, 400 + (code === 'campaign_not_found' ? 4 : 0), r.body);
    assert.equal(r.json().error.code, code, r.body);
    assert.match(r.json().error.message, message);
  }
  assert.equal((await db.sql`select count(*)::int as n from exports`)[0]!.n, before);
  await drain();
});
