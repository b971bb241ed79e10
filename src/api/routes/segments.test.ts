import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDatabase } from '../../../test/support/database.js';
import type { CreatedProject } from '../../store/projects.js';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';

// The segment routes on a real database, through the whole app (auth, validation, error handler).
let t: RouteTestApp;
let db: TestDatabase;
let project: CreatedProject;
let other: CreatedProject;

before(async () => {
  t = await routeTestApp('segments');
  ({ db, project, other } = t);
  // 100 profiles: every other one gold, a tenth French; the other project has gold profiles too.
  await db.sql`insert into profiles (project_id, custom_id, language, attributes)
    select ${project.project_id}, 'u' || lpad(g::text, 3, '0'), case when g % 10 = 0 then 'fr' else 'en' end,
           jsonb_build_object('tier', case when g % 2 = 0 then 'gold' else 'silver' end, 'n', g)
      from generate_series(1, 100) g`;
  await db.sql`insert into profiles (project_id, custom_id, attributes) select ${other.project_id}, 'o' || g, '{"tier": "gold"}' from generate_series(1, 7) g`;
});
after(() => t.close());

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, p: CreatedProject = project) => t.call(method, url, payload, { p });
const tableCount = async () => Number((await db.sql`select count(*) as n from segments`)[0]!.n);

test('a segment is saved, counted exactly, previewed, changed, listed and deleted', async () => {
  const created = await call('POST', '/v1/segments', { name: 'gold', query: { attribute: 'tier', eq: 'gold' } });
  assert.equal(created.statusCode, 201, created.body);
  const gold = created.json();
  assert.deepEqual(gold.query, { attribute: 'tier', eq: 'gold' });
  assert.equal(gold.description, null);

  const counted = await call('POST', `/v1/segments/${gold.id}/count`);
  assert.equal(counted.statusCode, 200, counted.body);
  assert.equal(counted.json().count, 50);
  assert.equal(typeof counted.json().took_ms, 'number');

  // A query naming the saved segment sees its query; the other project's profiles never count.
  const frenchGold = await call('POST', '/v1/segments/count', { query: { all: [{ segment: gold.id }, { field: 'language', eq: 'fr' }] } });
  assert.equal(frenchGold.json().count, 10);
  assert.equal((await call('POST', '/v1/segments/count', { query: { attribute: 'tier', eq: 'gold' } }, other)).json().count, 7);

  const preview = await call('POST', `/v1/segments/${gold.id}/preview`);
  assert.deepEqual(preview.json().profiles.map((p: { custom_id: string }) => p.custom_id), ['u002', 'u004', 'u006', 'u008', 'u010', 'u012', 'u014', 'u016', 'u018', 'u020']);
  assert.deepEqual(preview.json().profiles[0].attributes, { tier: 'gold', n: 2 });
  const inline = await call('POST', '/v1/segments/preview', { query: { attribute: 'n', gt: 97 }, limit: 2 });
  assert.deepEqual(inline.json().profiles.map((p: { custom_id: string }) => p.custom_id), ['u098', 'u099']);

  const changed = await call('PATCH', `/v1/segments/${gold.id}`, { query: { attribute: 'n', lte: 5 }, description: 'first five' });
  assert.equal(changed.statusCode, 200, changed.body);
  assert.equal(changed.json().description, 'first five');
  assert.equal((await call('POST', `/v1/segments/${gold.id}/count`)).json().count, 5);
  assert.equal((await call('GET', `/v1/segments/${gold.id}`)).json().name, 'gold');

  // Another project sees none of it.
  assert.equal((await call('GET', `/v1/segments/${gold.id}`, undefined, other)).statusCode, 404);
  assert.equal((await call('POST', `/v1/segments/${gold.id}/count`, undefined, other)).json().error.code, 'segment_not_found');
  assert.equal((await call('DELETE', `/v1/segments/${gold.id}`, undefined, other)).statusCode, 404);

  const deleted = await call('DELETE', `/v1/segments/${gold.id}`);
  assert.equal(deleted.statusCode, 204);
  assert.equal((await call('GET', `/v1/segments/${gold.id}`)).statusCode, 404);
});

test('segments page by cursor, oldest first', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await call('POST', '/v1/segments', { name: `page-${i}`, query: { attribute: 'n', eq: i } })).json().id);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const r = await call('GET', `/v1/segments?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.statusCode, 200, r.body);
    const body: { segments: { id: string; name: string }[]; next_cursor: string | null } = r.json();
    seen.push(...body.segments.filter((s) => s.name.startsWith('page-')).map((s) => s.id));
    cursor = body.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, ids);
  assert.equal((await call('GET', '/v1/segments?cursor=not-an-id')).statusCode, 400);
});

test('bad queries, missing or self-containing segments and taken names are refused, changing nothing', async () => {
  const before = await tableCount();
  const bad = await call('POST', '/v1/segments', { name: 'bad', query: { all: [{ attribute: 'tier', eq: 'gold' }, { attribute: 'n', gt: 'many' }] } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_query');
  assert.match(bad.json().error.message, /^body\.query\.all\[1\]\.gt must be a number or an ISO-8601 date/);

  const missing = await call('POST', '/v1/segments/count', { query: { not: { segment: '0190aaaa-0000-7000-8000-000000000000' } } });
  assert.equal(missing.statusCode, 400);
  assert.match(missing.json().error.message, /^body\.query\.not\.segment names no segment/);

  const a = (await call('POST', '/v1/segments', { name: 'a', query: { attribute: 'n', gt: 1 } })).json();
  const b = (await call('POST', '/v1/segments', { name: 'b', query: { any: [{ segment: a.id }] } })).json();
  const cycle = await call('PATCH', `/v1/segments/${a.id}`, { query: { not: { segment: b.id } } });
  assert.equal(cycle.statusCode, 400, cycle.body);
  assert.match(cycle.json().error.message, /contains itself/);
  assert.deepEqual((await call('GET', `/v1/segments/${a.id}`)).json().query, { attribute: 'n', gt: 1 });

  const taken = await call('POST', '/v1/segments', { name: 'a', query: { attribute: 'n', gt: 1 } });
  assert.equal(taken.statusCode, 409);
  assert.equal(taken.json().error.code, 'segment_name_taken');
  assert.equal((await call('PATCH', `/v1/segments/${b.id}`, { name: 'a' })).json().error.code, 'segment_name_taken');

  const inUse = await call('DELETE', `/v1/segments/${a.id}`);
  assert.equal(inUse.statusCode, 409);
  assert.equal(inUse.json().error.code, 'segment_in_use');
  assert.match(inUse.json().error.message, new RegExp(b.id));
  assert.equal(await tableCount(), before + 2);
});
