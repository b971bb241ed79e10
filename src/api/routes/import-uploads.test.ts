/**
 * Bulk uploads over real sockets, their bodies trickling in: no upload holds a database connection
 * while its client sends, an upload cut short leaves nothing, one past the byte cap stores nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { startTestHerald, eventually, type TestHerald } from '../../../test/support/herald.js';
import { createLogger } from '../../observability/logger.js';
import { createProject, type CreatedProject } from '../../store/projects.js';
import { topics } from '../../worker/topics.js';
import { uploadsPerProject } from '../bulk-upload.js';
import { deleteAbandonedUploads } from '../../store/import-jobs.js';
import { randomUUID } from 'node:crypto';

const capBytes = 256 * 1024;
const logLines: string[] = [];
let h: TestHerald;
before(async () => {
  const destination = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } });
  h = await startTestHerald({
    sandbox: false, env: { HERALD_ROLE: 'api' }, log: createLogger('info', { destination }),
    overrides: { bulkBodyBytes: capBytes },
  });
});
after(async () => { await h.close(); });

const line = (tag: string, n: number) => JSON.stringify({ identifiers: { custom_id: `${tag}-${n}` }, attributes: { n } }) + '\n';

/** A chunked upload over its own socket; the test writes its body when it likes. */
function upload(project: CreatedProject) {
  const u = new URL(h.url);
  const req = request({
    host: u.hostname, port: u.port, method: 'POST', path: '/v1/profiles/bulk', agent: false,
    headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/x-ndjson' },
  });
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { req, answer };
}

async function uploadingImports(projectIds: string[]): Promise<number> {
  const [r] = await h.db.sql`select count(*)::int as n from import_jobs where project_id = any(${projectIds}::uuid[]) and state = 'uploading'`;
  return r!.n;
}

test('twenty slow uploads in progress: /readyz and another project\'s send still answer', { timeout: 60_000 }, async () => {
  const projects = await Promise.all(Array.from({ length: 20 / uploadsPerProject }, (_, i) => createProject(h.db.sql, `slow-${i}`, h.keyring)));
  const uploads = projects.flatMap((p) => Array.from({ length: uploadsPerProject }, () => ({ p, ...upload(p) })));
  assert.equal(uploads.length, 20);
  // Each body trickles: a line every 100 ms, never enough for a chunk of 1,000 lines.
  let n = 0;
  const trickle = setInterval(() => { for (const u of uploads) u.req.write(line(`slow${n}`, n)); n++; }, 100);
  try {
    // Every upload has begun: its import is staged, invisible to readers.
    await eventually(async () => (await uploadingImports(projects.map((p) => p.project_id))) === 20 || undefined, 15_000, '20 uploads started');
    const ready = await fetch(h.url + '/readyz', { signal: AbortSignal.timeout(10_000) });
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { database: string }).database, 'up');
    const sent = await h.call('POST', '/v1/transactional/send', {
      group_id: 'g', recipients: { tokens: [{ platform: 'ios', token: 'ab'.repeat(32) }] }, push: { title: 'Hi', body: 'there' },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    // One more upload from a project that has its share in progress waits its turn.
    const extra = upload(projects[0]!);
    extra.req.end(line('extra', 1));
    const refused = await extra.answer;
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'too_many_uploads');
  } finally {
    clearInterval(trickle);
  }
  for (const u of uploads) u.req.end();
  const answers = await Promise.all(uploads.map((u) => u.answer));
  for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.body));
  // Acknowledged: each is visible, queued with every line, with its one job.
  for (const [i, a] of answers.entries()) {
    const job = await h.call('GET', `/v1/jobs/${a.body.job_id}`, undefined, { authorization: `Bearer ${uploads[i]!.p.rest_key}` });
    assert.equal(job.body.state, 'queued');
    assert.equal(job.body.total_lines, n);
  }
  const [jobs] = await h.db.sql`select count(*)::int as n from jobs where topic = ${topics.importProfiles}
                                  and payload->>'import_id' = any(${answers.map((a) => a.body.job_id)}::text[])`;
  assert.equal(jobs!.n, 20);
});

test('an upload cut short leaves no import, no job and no staged line, and is not logged as a database outage', { timeout: 30_000 }, async () => {
  const project = await createProject(h.db.sql, 'aborted', h.keyring);
  const u = upload(project);
  u.answer.catch(() => {});
  let body = '';
  for (let i = 1; i <= 1500; i++) body += line('cut', i);
  u.req.write(body);
  // Its first chunk of 1,000 lines is staged; then the client goes away.
  await eventually(async () => {
    const [r] = await h.db.sql`select count(*)::int as n from import_chunks c join import_jobs j on j.id = c.import_id where j.project_id = ${project.project_id}`;
    return r!.n >= 1 || undefined;
  }, 10_000, 'a staged chunk');
  u.req.destroy();
  await eventually(async () => logLines.some((l) => l.includes('request_incomplete')) || undefined, 10_000, 'the cut upload logged');
  const [left] = await h.db.sql`select (select count(*)::int from import_jobs where project_id = ${project.project_id}) as imports,
                                       (select count(*)::int from import_chunks c where not exists (select 1 from import_jobs j where j.id = c.import_id)) as orphans`;
  assert.deepEqual(left, { imports: 0, orphans: 0 });
  const [jobs] = await h.db.sql`select count(*)::int as n from jobs j where topic = ${topics.importProfiles}
                                  and not exists (select 1 from import_jobs i where i.id::text = j.payload->>'import_id')`;
  assert.equal(jobs!.n, 0, 'no job names a vanished import');
  const [profiles] = await h.db.sql`select count(*)::int as n from profiles where project_id = ${project.project_id}`;
  assert.equal(profiles!.n, 0);
  assert.ok(!logLines.some((l) => l.includes('database_unavailable') || l.includes('database is unreachable')), 'not a database outage');
});

test('an upload past the byte cap is a 413 body_too_large and stores nothing, streamed or announced', { timeout: 30_000 }, async () => {
  const project = await createProject(h.db.sql, 'big', h.keyring);
  let body = '';
  for (let i = 1; body.length <= capBytes + 8 * 1024; i++) body += line('big', i);
  // Chunked: the cap is found while reading, after a chunk may have been staged.
  const streamed = upload(project);
  streamed.req.end(body);
  const r = await streamed.answer;
  assert.equal(r.status, 413);
  assert.equal(r.body.error.code, 'body_too_large');
  // With a Content-Length past the cap: refused before any byte is read.
  const announced = await h.call('POST', '/v1/profiles/bulk', body, { 'content-type': 'application/x-ndjson', authorization: `Bearer ${project.rest_key}` });
  assert.equal(announced.status, 413);
  assert.equal(announced.body.error.code, 'body_too_large');
  const [left] = await h.db.sql`select count(*)::int as n from import_jobs where project_id = ${project.project_id}`;
  assert.equal(left!.n, 0);
  // Just under the cap is accepted.
  const fits = await h.call('POST', '/v1/profiles/bulk', body.slice(0, body.lastIndexOf('\n', capBytes - 1) + 1),
    { 'content-type': 'application/x-ndjson', authorization: `Bearer ${project.rest_key}` });
  assert.equal(fits.status, 202, JSON.stringify(fits.body));
});

test('the scheduler\'s upkeep removes uploads a dead process left staged, and only those', async () => {
  const project = await createProject(h.db.sql, 'orphans', h.keyring);
  const [old, fresh] = [randomUUID(), randomUUID()];
  await h.db.sql`insert into import_jobs (id, project_id, state, total_lines, total_chunks, created_at) values
    (${old}, ${project.project_id}, 'uploading', 0, 0, now() - interval '3 hours'),
    (${fresh}, ${project.project_id}, 'uploading', 0, 0, now())`;
  await h.db.sql`insert into import_chunks (import_id, chunk_no, first_line, line_count, body) values (${old}, 0, 1, 1, '{}'), (${fresh}, 0, 1, 1, '{}')`;
  assert.equal(await deleteAbandonedUploads(h.db.sql, new Date()), 1);
  const left = await h.db.sql<{ id: string }[]>`select id from import_jobs where project_id = ${project.project_id}`;
  assert.deepEqual(left.map((r) => r.id), [fresh]);
  const [chunks] = await h.db.sql`select count(*)::int as n from import_chunks where import_id = ${old}`;
  assert.equal(chunks!.n, 0);
});
