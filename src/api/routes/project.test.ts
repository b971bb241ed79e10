import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';
import { createProject, type CreatedProject } from '../../store/projects.js';

let h: TestHerald;
let p: CreatedProject;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const ping = (key: string) => h.call('GET', '/v1/project/keys', undefined, as(key));

test('keys are listed without the key, created (shown once) and revoked at once in this process', async () => {
  p = await createProject(h.db.sql, 'keys', h.keyring);
  const listed = await ping(p.rest_key);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.deepEqual(listed.body.keys.map((k: { kind: string }) => k.kind).sort(), ['rest', 'sdk']);
  assert.ok(listed.body.keys.every((k: Record<string, unknown>) => k.revoked_at === null && typeof k.id === 'string' && !('key' in k)));
  assert.ok(!JSON.stringify(listed.body).includes(p.rest_key.slice(10)));

  const created = await h.call('POST', '/v1/project/keys', { kind: 'rest' }, as(p.rest_key));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.body.key, /^hrld_rest_/);
  assert.equal((await ping(created.body.key)).status, 200, 'the new key works');

  const oldRest = listed.body.keys.find((k: { kind: string }) => k.kind === 'rest').id;
  assert.equal((await ping(p.rest_key)).status, 200); // cached as valid
  const revoked = await h.call('POST', `/v1/project/keys/${oldRest}/revoke`, undefined, as(created.body.key));
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  assert.ok(revoked.body.revoked_at);
  const refused = await ping(p.rest_key);
  assert.equal(refused.status, 401, 'refused at once, though the cache had it');
  assert.equal(refused.body.error.code, 'unauthorized');
  const again = await h.call('POST', `/v1/project/keys/${oldRest}/revoke`, undefined, as(created.body.key));
  assert.equal(again.body.revoked_at, revoked.body.revoked_at, 'revoking twice answers the revoked key');
});

test('the last active REST key cannot be revoked, not even by itself; an SDK key can', async () => {
  const q = await createProject(h.db.sql, 'last', h.keyring);
  const keys = (await ping(q.rest_key)).body.keys as { id: string; kind: string }[];
  const rest = keys.find((k) => k.kind === 'rest')!;
  const last = await h.call('POST', `/v1/project/keys/${rest.id}/revoke`, undefined, as(q.rest_key));
  assert.equal(last.status, 409, JSON.stringify(last.body));
  assert.equal(last.body.error.code, 'last_rest_key');
  assert.equal((await ping(q.rest_key)).status, 200, 'still works');

  const sdk = keys.find((k) => k.kind === 'sdk')!;
  assert.equal((await h.call('POST', `/v1/project/keys/${sdk.id}/revoke`, undefined, as(q.rest_key))).status, 200);
  const events = await h.call('POST', '/v1/sdk/events', { install_id: 'i', events: [] }, as(q.sdk_key));
  assert.equal(events.status, 401, 'the revoked SDK key is refused on the SDK routes');
});

test('keys are the project\'s own: the SDK key cannot manage them, another project\'s key id is not found', async () => {
  const r = await createProject(h.db.sql, 'mine', h.keyring);
  const s = await createProject(h.db.sql, 'theirs', h.keyring);
  const theirs = (await ping(s.rest_key)).body.keys[0].id;
  assert.equal((await h.call('GET', '/v1/project/keys', undefined, as(r.sdk_key))).body.error.code, 'forbidden_for_sdk_key');
  assert.equal((await h.call('POST', '/v1/project/keys', { kind: 'sdk' }, as(r.sdk_key))).status, 403);
  const cross = await h.call('POST', `/v1/project/keys/${theirs}/revoke`, undefined, as(r.rest_key));
  assert.equal(cross.status, 404);
  assert.equal(cross.body.error.code, 'api_key_not_found');
  assert.equal((await h.call('POST', `/v1/project/keys/${randomUUID()}/revoke`, undefined, as(r.rest_key))).status, 404);
  assert.equal((await h.call('POST', '/v1/project/keys/not-a-uuid/revoke', undefined, as(r.rest_key))).status, 400);
  assert.equal((await h.call('POST', '/v1/project/keys', { kind: 'admin' }, as(r.rest_key))).status, 400);
  assert.equal((await ping(s.rest_key)).body.keys.filter((k: { revoked_at: unknown }) => k.revoked_at).length, 0);
});

test('two REST keys revoked at once: one is, the other stays as the last', async () => {
  const q = await createProject(h.db.sql, 'race', h.keyring);
  const second = (await h.call('POST', '/v1/project/keys', { kind: 'rest' }, as(q.rest_key))).body;
  const ids = ((await ping(q.rest_key)).body.keys as { id: string; kind: string }[]).filter((k) => k.kind === 'rest').map((k) => k.id);
  const answers = await Promise.all(ids.map((id, i) =>
    h.call('POST', `/v1/project/keys/${id}/revoke`, undefined, as(i === 0 ? q.rest_key : second.key))));
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
  const [n] = await h.db.sql`select count(*)::int as n from api_keys where project_id = ${q.project_id} and kind = 'rest' and revoked_at is null`;
  assert.equal(n!.n, 1);
  // A rotation needs no body: the default grace applies.
  const rotated = await h.call('POST', '/v1/project/identity-secret/rotate', undefined, as(answers[0]!.status === 200 ? second.key : q.rest_key));
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.ok(Date.parse(rotated.body.previous_valid_until) > Date.now() + 86_000_000);
});

test('the project\'s time zone is read and set (an IANA name, checked with Intl), admin only, UTC until set', async () => {
  const q = await createProject(h.db.sql, 'zones', h.keyring);
  const read = await h.call('GET', '/v1/project', undefined, as(q.rest_key));
  assert.equal(read.status, 200, JSON.stringify(read.body));
  assert.deepEqual({ id: read.body.id, name: read.body.name, timezone: read.body.timezone }, { id: q.project_id, name: 'zones', timezone: 'UTC' });

  const set = await h.call('PATCH', '/v1/project', { timezone: 'America/Sao_Paulo' }, as(q.rest_key));
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.timezone, 'America/Sao_Paulo');
  assert.equal((await h.call('GET', '/v1/project', undefined, as(q.rest_key))).body.timezone, 'America/Sao_Paulo');
  const [stored] = await h.db.sql<{ timezone: string }[]>`select timezone from projects where id = ${q.project_id}`;
  assert.equal(stored!.timezone, 'America/Sao_Paulo', 'the campaign planner reads this column');

  for (const bad of ['Mars/Olympus_Mons', 'UTC+2', '../../etc/passwd', '']) {
    const refused = await h.call('PATCH', '/v1/project', { timezone: bad }, as(q.rest_key));
    assert.equal(refused.status, 400, `${bad}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error.code, bad === '' ? 'invalid_field' : 'invalid_timezone', bad);
  }
  assert.equal((await h.call('PATCH', '/v1/project', { timezone: 'Asia/Tokyo', name: 'x' }, as(q.rest_key))).body.error.code, 'unknown_field',
    'unknown fields are refused');
  assert.equal((await h.call('GET', '/v1/project', undefined, as(q.rest_key))).body.timezone, 'America/Sao_Paulo', 'nothing was changed');
  assert.equal((await h.call('PATCH', '/v1/project', {}, as(q.rest_key))).body.timezone, 'America/Sao_Paulo', 'an empty patch changes nothing');
  assert.equal((await h.call('PATCH', '/v1/project', { timezone: 'Asia/Tokyo' }, as(q.sdk_key))).body.error.code, 'forbidden_for_sdk_key');

  const r = await createProject(h.db.sql, 'other', h.keyring);
  assert.equal((await h.call('GET', '/v1/project', undefined, as(r.rest_key))).body.timezone, 'UTC', 'each project its own zone');
});
