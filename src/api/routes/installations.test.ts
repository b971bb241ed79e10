import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHerald, type TestHerald } from '../../../test/support/herald.js';

let h: TestHerald;
before(async () => { h = await startTestHerald({ sandbox: false, env: { HERALD_ROLE: 'api' } }); });
after(async () => { await h.close(); });

test('the SDK key registers an installation; registering again updates it, never duplicates', async () => {
  const sdk = { authorization: `Bearer ${h.project.sdk_key}` };
  const first = await h.call('POST', '/v1/sdk/installations',
    { install_id: 'i-1', platform: 'ios', push_token: 'aa11', custom_id: 'alice', apns_environment: 'sandbox' }, sdk);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.installation.custom_id, 'alice');
  const again = await h.call('POST', '/v1/sdk/installations',
    { install_id: 'i-1', platform: 'ios', push_token: 'bb22', language: 'fr' }, sdk);
  assert.equal(again.status, 200);
  assert.equal(again.body.installation.push_token, 'bb22');
  assert.equal(again.body.installation.custom_id, 'alice', 'fields left out keep their value');
  assert.equal(again.body.installation.apns_environment, 'sandbox');
  assert.equal(again.body.installation.language, 'fr');
  const rows = await h.db.sql`select count(*)::int as n from installations where install_id = 'i-1'`;
  assert.equal(rows[0]!.n, 1);
});

test('the REST key may register installations too; a bad platform is a 400 naming it', async () => {
  const ok = await h.call('POST', '/v1/sdk/installations', { install_id: 'i-2', platform: 'android', push_token: 't' });
  assert.equal(ok.status, 200);
  const bad = await h.call('POST', '/v1/sdk/installations', { install_id: 'i-3', platform: 'symbian' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'invalid_field');
  assert.match(bad.body.error.message, /platform/);
});

test('installations are scoped to their project', async () => {
  const { createProject } = await import('../../store/projects.js');
  const other = await createProject(h.db.sql, 'other');
  await h.call('POST', '/v1/sdk/installations', { install_id: 'shared-id', platform: 'ios', custom_id: 'a' });
  await h.call('POST', '/v1/sdk/installations', { install_id: 'shared-id', platform: 'ios', custom_id: 'b' },
    { authorization: `Bearer ${other.rest_key}` });
  const rows = await h.db.sql`select project_id, custom_id from installations where install_id = 'shared-id' order by custom_id`;
  assert.equal(rows.length, 2);
  assert.notEqual(rows[0]!.project_id, rows[1]!.project_id);
});
