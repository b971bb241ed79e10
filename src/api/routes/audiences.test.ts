import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TestDatabase } from '../../../test/support/database.js';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';
import { testClock } from '../../../test/support/clock.js';
import type { WorkQueue } from '../../queue/queue.js';
import type { CreatedProject } from '../../store/projects.js';
import { appliedChangeRetentionMs, applyNextChange, deleteAppliedChanges } from '../../store/audiences.js';
import { countMatching } from '../../store/targeting.js';
import { applyAudiencesHandler } from '../../worker/apply-audiences.js';
import { topics, type AudiencePayload } from '../../worker/topics.js';
import { eventually } from '../../../test/support/eventually.js';

// The audience routes on a real database through the whole app, with the worker's apply step
// driven by the test: it claims the audiences.apply jobs and runs the real handler on them.
const clock = testClock();
let t: RouteTestApp;
let db: TestDatabase;
let queue: WorkQueue;
let app: FastifyInstance;
let project: CreatedProject;
let other: CreatedProject;

before(async () => {
  t = await routeTestApp('audiences', { clock });
  ({ db, queue, app, project, other } = t);
  await db.sql`insert into profiles (project_id, custom_id) select ${project.project_id}, 'u' || lpad(g::text, 3, '0') from generate_series(1, 100) g`;
});
after(() => t.close());

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
const call = (method: Method, url: string, payload?: unknown, o: { p?: CreatedProject; key?: string } = {}) =>
  t.call(method, url, payload, { ...(o.p ? { p: o.p } : {}), headers: o.key ? { 'idempotency-key': o.key } : {} });
const upload = (audienceId: string, mode: string, body: Readable | string, type = 'application/x-ndjson') =>
  app.inject({ method: 'POST', url: `/v1/audiences/${audienceId}/uploads?mode=${mode}`, headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': type }, payload: body });

/** Runs the apply worker until no audiences.apply job is left; returns how many jobs it ran. */
async function drain(): Promise<number> {
  const run = applyAudiencesHandler({ sql: db.sql, queue, clock });
  let n = 0;
  for (;;) {
    const jobs = await queue.claim(topics.applyAudiences, { max: 10, leaseMs: 30_000, waitMs: 0 });
    if (!jobs.length) return n;
    n += jobs.length;
    await run(jobs);
  }
}
const members = async (audienceId: string) =>
  (await db.sql<{ custom_id: string }[]>`select custom_id from audience_members where audience_id = ${audienceId} order by custom_id`).map((r) => r.custom_id);
const create = async (name: string) => {
  const r = await call('POST', '/v1/audiences', { name });
  assert.equal(r.statusCode, 201, r.body);
  return r.json().id as string;
};
const state = async (audienceId: string, token: string) => (await call('GET', `/v1/audiences/${audienceId}/indexing/${token}`)).json().state;
const counts = async () => (await db.sql<{ changes: number; jobs: number }[]>`
  select (select count(*)::int from audience_changes) as changes, (select count(*)::int from jobs where topic = ${topics.applyAudiences}) as jobs`)[0]!;

test('an audience is created, listed by cursor, read with its counts, and deleted unless a segment names it', async () => {
  const a = await call('POST', '/v1/audiences', { name: 'vip', description: 'the best' });
  assert.equal(a.statusCode, 201, a.body);
  const vip = a.json();
  assert.equal(vip.description, 'the best');
  assert.equal((await call('POST', '/v1/audiences', { name: 'vip' })).json().error.code, 'audience_name_taken');
  const b = await create('b');
  const c = await create('c');

  const first = (await call('GET', '/v1/audiences?limit=2')).json();
  assert.equal(first.audiences.length, 2);
  const second = (await call('GET', `/v1/audiences?limit=2&cursor=${first.next_cursor}`)).json();
  assert.deepEqual([...first.audiences, ...second.audiences].map((x: { id: string }) => x.id).filter((x: string) => [vip.id, b, c].includes(x)), [vip.id, b, c]);

  const one = await call('GET', `/v1/audiences/${vip.id}`);
  assert.equal(one.statusCode, 200, one.body);
  assert.deepEqual([one.json().member_count, one.json().pending_changes], [0, 0]);

  const seg = await call('POST', '/v1/segments', { name: 'uses b', query: { all: [{ field: 'language', eq: 'fr' }, { audience: b }] } });
  assert.equal(seg.statusCode, 201, seg.body);
  const inUse = await call('DELETE', `/v1/audiences/${b}`);
  assert.equal(inUse.statusCode, 409);
  assert.equal(inUse.json().error.code, 'audience_in_use');
  assert.equal((await call('DELETE', `/v1/segments/${seg.json().id}`)).statusCode, 204);
  assert.equal((await call('DELETE', `/v1/audiences/${b}`)).statusCode, 204);
  assert.equal((await call('GET', `/v1/audiences/${b}`)).json().error.code, 'audience_not_found');
  assert.equal((await call('DELETE', `/v1/audiences/${b}`)).statusCode, 404);
});

test('more than 10,000 ids in one call is a 400 that changes nothing; 10,000 are taken', async () => {
  const a = await create('big');
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `x${i}`);
  const before = await counts();
  for (const [method, body] of [
    ['POST', { add: ids(10_001) }], ['POST', { add: ids(5_000), remove: ids(5_001).map((x) => 'r' + x) }], ['PUT', { custom_ids: ids(10_001) }],
  ] as const) {
    const r = await call(method, `/v1/audiences/${a}/members`, body);
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().error.code, 'too_many_ids');
  }
  assert.deepEqual(await counts(), before);
  const ok = await call('POST', `/v1/audiences/${a}/members`, { add: ids(10_000) });
  assert.equal(ok.statusCode, 202, ok.body);
  assert.equal(await drain(), 1);
  assert.equal((await call('GET', `/v1/audiences/${a}`)).json().member_count, 10_000);
  // An id in both lists, or none at all, is refused too.
  assert.equal((await call('POST', `/v1/audiences/${a}/members`, { add: ['q'], remove: ['q'] })).json().error.code, 'invalid_field');
  assert.equal((await call('POST', `/v1/audiences/${a}/members`, { add: [] })).json().error.code, 'invalid_field');
});

test('changes apply in the order they were accepted: tokens go from in_process to applied, a replace drops earlier adds', async () => {
  const a = await create('order');
  const t1 = (await call('POST', `/v1/audiences/${a}/members`, { add: ['a', 'b', 'c'] })).json().indexing_token;
  const t2 = (await call('POST', `/v1/audiences/${a}/members`, { remove: ['b'] })).json().indexing_token;
  const t3 = (await call('POST', `/v1/audiences/${a}/members`, { add: ['b2'], remove: ['c'] })).json().indexing_token;
  assert.equal(await state(a, t1), 'in_process');
  assert.equal((await call('GET', `/v1/audiences/${a}`)).json().pending_changes, 4);
  await drain();
  assert.deepEqual([await state(a, t1), await state(a, t2), await state(a, t3)], ['applied', 'applied', 'applied']);
  assert.deepEqual(await members(a), ['a', 'b2']);

  // A replace accepted while adds are pending: what was added before it goes, what after it stays.
  await call('POST', `/v1/audiences/${a}/members`, { add: ['e', 'f'] });
  const replace = await call('PUT', `/v1/audiences/${a}/members`, { custom_ids: ['x', 'e'] });
  assert.equal(replace.statusCode, 202, replace.body);
  await call('POST', `/v1/audiences/${a}/members`, { add: ['y'] });
  assert.equal(await state(a, replace.json().indexing_token), 'in_process');
  await drain();
  assert.deepEqual(await members(a), ['e', 'x', 'y']);
  assert.deepEqual(await call('GET', `/v1/audiences/${a}`).then((r) => [r.json().member_count, r.json().pending_changes]), [3, 0]);

  const unknown = await call('GET', `/v1/audiences/${a}/indexing/${a}`);
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error.code, 'indexing_token_not_found');
  const gone = await call('POST', `/v1/audiences/${t1}/members`, { add: ['a'] });
  assert.equal(gone.json().error.code, 'audience_not_found');
});

test('a redelivered or duplicated apply job, or one cut off before its commit, changes nothing twice', async () => {
  const a = await create('redelivery');
  await call('POST', `/v1/audiences/${a}/members`, { add: ['z', 'w'] });
  await call('POST', `/v1/audiences/${a}/members`, { remove: ['z'] });
  // The worker dies inside the first change's transaction: nothing of it stays.
  const p = { project_id: project.project_id, audience_id: a };
  await assert.rejects(applyNextChange(db.sql, p.project_id, a, { now: new Date(clock.now()), beforeCommit: async () => { throw new Error('killed'); } }), /killed/);
  assert.deepEqual(await members(a), []);
  await drain();
  assert.deepEqual(await members(a), ['w']);
  // The same job again (JetStream redelivers after a lost ack; the reconciler may add one): the add is not re-applied after the remove.
  await queue.enqueue(db.sql, [{ topic: topics.applyAudiences, payload: p satisfies AudiencePayload }, { topic: topics.applyAudiences, payload: p }]);
  assert.equal(await drain(), 2);
  assert.deepEqual(await members(a), ['w']);
});

test('Idempotency-Key: the same key and body replay the first token; another body is a 422', async () => {
  const a = await create('idem');
  const first = await call('POST', `/v1/audiences/${a}/members`, { add: ['k1'] }, { key: 'key-1' });
  const again = await call('POST', `/v1/audiences/${a}/members`, { add: ['k1'] }, { key: 'key-1' });
  assert.equal(again.statusCode, 202);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  assert.equal(again.json().indexing_token, first.json().indexing_token);
  const [{ n }] = await db.sql`select count(*)::int as n from audience_changes where audience_id = ${a}` as unknown as [{ n: number }];
  assert.equal(n, 1);
  const other = await call('PUT', `/v1/audiences/${a}/members`, { custom_ids: [] }, { key: 'key-1' });
  assert.equal(other.statusCode, 422);
  assert.equal(other.json().error.code, 'idempotency_key_reused');
  const made = await call('POST', '/v1/audiences', { name: 'idem-made' }, { key: 'key-2' });
  const remade = await call('POST', '/v1/audiences', { name: 'idem-made' }, { key: 'key-2' });
  assert.deepEqual([made.statusCode, remade.statusCode, remade.json().id], [201, 201, made.json().id]);
  await drain();
});

test('another project\'s key sees and changes nothing', async () => {
  const a = await create('private');
  const t = (await call('POST', `/v1/audiences/${a}/members`, { add: ['u001'] })).json().indexing_token;
  await drain();
  const as = { p: other };
  assert.equal((await call('GET', `/v1/audiences/${a}`, undefined, as)).statusCode, 404);
  assert.equal((await call('GET', `/v1/audiences/${a}/indexing/${t}`, undefined, as)).statusCode, 404);
  assert.deepEqual((await call('GET', '/v1/audiences', undefined, as)).json().audiences, []);
  assert.equal((await call('POST', `/v1/audiences/${a}/members`, { remove: ['u001'] }, as)).statusCode, 404);
  assert.equal((await call('PUT', `/v1/audiences/${a}/members`, { custom_ids: [] }, as)).statusCode, 404);
  assert.equal((await call('DELETE', `/v1/audiences/${a}`, undefined, as)).statusCode, 404);
  const up = await app.inject({ method: 'POST', url: `/v1/audiences/${a}/uploads?mode=replace`, headers: { authorization: `Bearer ${other.rest_key}`, 'content-type': 'application/x-ndjson' }, payload: '{"custom_id":"x"}\n' });
  assert.equal(up.statusCode, 404);
  await drain();
  assert.deepEqual(await members(a), ['u001']);
  // Nor does the other project's targeting see this audience's members.
  assert.equal(await countMatching(db.sql, other.project_id, { kind: 'audience', id: a }, clock.now()), 0);
});

test('an audience in a targeting count matches its members that are profiles', async () => {
  const a = await create('targeted');
  await call('POST', `/v1/audiences/${a}/members`, { add: [...Array.from({ length: 10 }, (_, i) => `u${String(i + 1).padStart(3, '0')}`), 'not-a-profile'] });
  await drain();
  assert.equal(await countMatching(db.sql, project.project_id, { kind: 'audience', id: a }, clock.now()), 10);
  const r = await call('POST', '/v1/segments/count', { query: { not: { audience: a } } });
  assert.equal(r.json().count, 90);
});

test('an upload of 200,000 ids streamed as NDJSON is applied exactly; CSV replace and remove uploads follow in order', { timeout: 120_000 }, async () => {
  const a = await create('uploaded');
  const total = 200_000;
  function* lines() {
    for (let i = 0; i < total; i += 1000) {
      let s = '';
      for (let j = i; j < i + 1000; j++) s += `{"custom_id":"m${j}"}\n`;
      yield s;
    }
  }
  let started = performance.now();
  const r = await upload(a, 'add', Readable.from(lines()));
  const uploadMs = performance.now() - started;
  assert.equal(r.statusCode, 202, r.body);
  const { indexing_token: token, job_id: jobId, total_ids } = r.json();
  assert.equal(total_ids, total);
  assert.equal(await state(a, token), 'in_process');
  // An inline remove accepted after the upload applies after all of it.
  const removal = await call('POST', `/v1/audiences/${a}/members`, { remove: ['m0', 'm199999'] });
  started = performance.now();
  await drain();
  const applyMs = performance.now() - started;
  assert.equal(await state(a, token), 'applied');
  assert.equal(await state(a, removal.json().indexing_token), 'applied');
  const [row] = await db.sql<{ n: number; lo: string }[]>`select count(*)::int as n, min(custom_id) as lo from audience_members where audience_id = ${a}`;
  assert.equal(row!.n, total - 2);
  assert.equal((await call('GET', `/v1/audiences/${a}`)).json().member_count, total - 2);
  const job = (await call('GET', `/v1/jobs/${jobId}`)).json();
  assert.deepEqual([job.state, job.processed_lines, job.total_lines], ['done', total, total]);
  console.log(`# ${total} ids: upload ${Math.round(uploadMs)} ms, apply ${Math.round(applyMs)} ms`);

  // A CSV replace keeps only its ids (a quoted one too); the worker dies once mid-upload and loses nothing.
  const csv = 'name,custom_id\n' + Array.from({ length: 25_000 }, (_, i) => `n${i},m${i * 10}`).join('\r\n') + '\r\n"q, quoted","new ""one"""\n';
  const replaced = await upload(a, 'replace', csv, 'text/csv');
  assert.equal(replaced.statusCode, 202, replaced.body);
  await assert.rejects(applyNextChange(db.sql, project.project_id, a, { now: new Date(clock.now()), beforeCommit: async () => { throw new Error('killed'); } }));
  await applyNextChange(db.sql, project.project_id, a, { now: new Date(clock.now()) }); // one chunk of three
  await drain();
  const kept = await members(a);
  assert.equal(kept.length, 25_001);
  assert.ok(kept.includes('new "one"') && kept.includes('m10') && kept.includes('m0') && !kept.includes('m1') && !kept.includes('m11'));
  const removed = await upload(a, 'remove', 'custom_id\nm10\nm20\n', 'text/csv');
  assert.equal(removed.statusCode, 202, removed.body);
  await drain();
  assert.equal((await members(a)).length, 24_999);
  // A replace upload of no id (a header alone) empties the audience.
  const emptied = await upload(a, 'replace', 'custom_id\n', 'text/csv');
  assert.equal(emptied.statusCode, 202, emptied.body);
  await drain();
  assert.deepEqual(await members(a), []);
  assert.equal(await state(a, emptied.json().indexing_token), 'applied');
});

test('a bad upload line is a 400 naming it and leaves no staged upload, change or job', async () => {
  const a = await create('bad uploads');
  const before = async () => (await db.sql`select (select count(*)::int from import_jobs) as i, (select count(*)::int from import_chunks) as c,
    (select count(*)::int from audience_changes) as a, (select count(*)::int from jobs) as j`)[0];
  const was = await before();
  const bigGood = Array.from({ length: 15_000 }, (_, i) => `{"custom_id":"g${i}"}`).join('\n');
  for (const [body, type, message] of [
    [bigGood + '\n{"custom_id": 5}\n', 'application/x-ndjson', /line 15001: custom_id must be a string/],
    ['{"custom_id":"a"}\nnot json\n', 'application/x-ndjson', /line 2: is not valid JSON/],
    ['{"custom_id":"a","x":1}\n', 'application/x-ndjson', /"x" is not a known field/],
    ['{"custom_id":"a\\u0000"}\n', 'application/x-ndjson', /cannot be stored/],
    ['id,name\n1,2\n', 'text/csv', /line 1: the header row must name a custom_id column/],
    ['custom_id\n"open\n', 'text/csv', /line 2: a quoted field is not closed/],
    ['', 'application/x-ndjson', /no custom_id/],
  ] as const) {
    const r = await upload(a, 'add', body, type);
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().error.message, message);
  }
  const json = await app.inject({ method: 'POST', url: `/v1/audiences/${a}/uploads?mode=add`, headers: { authorization: `Bearer ${project.rest_key}` }, payload: { custom_id: 'a' } });
  assert.equal(json.statusCode, 415);
  assert.equal((await upload(a, 'merge', '{"custom_id":"a"}\n')).statusCode, 400);
  assert.equal((await upload(project.project_id, 'add', '{"custom_id":"a"}\n')).json().error.code, 'audience_not_found');
  assert.deepEqual(await before(), was);
});

test('an applied change\'s token answers for a week, then the upkeep forgets it; a pending one stays', async () => {
  const a = await create('retention');
  const applied = (await call('POST', `/v1/audiences/${a}/members`, { add: ['r1'] })).json().indexing_token;
  await drain();
  const pending = (await call('POST', `/v1/audiences/${a}/members`, { add: ['r2'] })).json().indexing_token;
  assert.equal(await deleteAppliedChanges(db.sql, new Date(clock.now())), 0);
  clock.advance(appliedChangeRetentionMs + 60_000);
  assert.ok((await deleteAppliedChanges(db.sql, new Date(clock.now()))) >= 1);
  assert.equal((await call('GET', `/v1/audiences/${a}/indexing/${applied}`)).statusCode, 404);
  assert.equal(await state(a, pending), 'in_process');
  await drain();
  assert.deepEqual(await members(a), ['r1', 'r2']);
});

test('erasing a profile takes it out of every audience and out of pending changes', async () => {
  const a = await create('erasure');
  await call('POST', `/v1/audiences/${a}/members`, { add: ['u050', 'u051'] });
  await drain();
  const pending = await call('POST', `/v1/audiences/${a}/members`, { add: ['u050', 'u052'] });
  assert.equal(pending.statusCode, 202);
  const erased = await call('DELETE', '/v1/profiles/u050');
  assert.equal(erased.statusCode, 200, erased.body);
  assert.deepEqual(await members(a), ['u051']);
  await drain();
  assert.deepEqual(await members(a), ['u051', 'u052']);
});

test('two workers applying one audience at once end as the changes in order would', async () => {
  const a = await create('concurrent');
  const expected = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const ids = Array.from({ length: 50 }, (_, j) => `c${(i * 7 + j) % 80}`);
    if (i % 3 === 2) {
      await call('POST', `/v1/audiences/${a}/members`, { remove: ids });
      for (const id of ids) expected.delete(id);
    } else if (i === 10) {
      await call('PUT', `/v1/audiences/${a}/members`, { custom_ids: ids });
      expected.clear();
      for (const id of ids) expected.add(id);
    } else {
      await call('POST', `/v1/audiences/${a}/members`, { add: ids });
      for (const id of ids) expected.add(id);
    }
  }
  // Every job twice, and two workers claiming them at once: appliers race for the audience throughout.
  const payload: AudiencePayload = { project_id: project.project_id, audience_id: a };
  await queue.enqueue(db.sql, Array.from({ length: 30 }, () => ({ topic: topics.applyAudiences, payload })));
  const [x, y] = await Promise.all([drain(), drain()]);
  assert.equal(x + y, 60);
  assert.deepEqual(await members(a), [...expected].sort());
});

test('an upload under an Idempotency-Key is staged once; the same key with another body is a 422', async () => {
  const a = await create('idem upload');
  const send = (body: string) => app.inject({
    method: 'POST', url: `/v1/audiences/${a}/uploads?mode=add`,
    headers: { authorization: `Bearer ${project.rest_key}`, 'content-type': 'application/x-ndjson', 'idempotency-key': 'up-1' }, payload: body,
  });
  const imports = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from import_jobs`)[0]!.n;
  const first = await send('{"custom_id":"i1"}\n{"custom_id":"i2"}\n');
  assert.equal(first.statusCode, 202, first.body);
  const staged = await imports();
  const again = await send('{"custom_id":"i1"}\n{"custom_id":"i2"}\n');
  assert.deepEqual([again.statusCode, again.headers['idempotent-replayed'], again.json()], [202, 'true', first.json()]);
  const other = await send('{"custom_id":"i3"}\n');
  assert.equal(other.json().error.code, 'idempotency_key_reused');
  assert.equal(await imports(), staged, 'the replayed and the refused uploads left nothing staged');
  await drain();
  assert.deepEqual(await members(a), ['i1', 'i2']);
});

test('an audience deleted while its upload streams: the upload is a 404 and leaves nothing', async () => {
  const a = await create('deleted mid-upload');
  const body = new PassThrough();
  const answer = upload(a, 'add', body);
  body.write(Array.from({ length: 12_000 }, (_, i) => `{"custom_id":"d${i}"}\n`).join(''));
  await eventually(async () => (await db.sql`select 1 from import_chunks c join import_jobs j on j.id = c.import_id where j.state = 'uploading'`).length > 0 || undefined, 15_000, 'a chunk staged');
  assert.equal((await call('DELETE', `/v1/audiences/${a}`)).statusCode, 204);
  body.end('{"custom_id":"last"}\n');
  const r = await answer;
  assert.equal(r.statusCode, 404, r.body);
  assert.equal(r.json().error.code, 'audience_not_found');
  assert.equal((await db.sql`select 1 from import_jobs where state = 'uploading'`).length, 0);
  assert.equal((await db.sql`select 1 from audience_changes where audience_id = ${a}`).length, 0);
});
