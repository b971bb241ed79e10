import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDatabase } from '../../../test/support/database.js';
import type { CreatedProject } from '../../store/projects.js';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';

// The capping routes through the whole app (auth, validation, error handler, response schemas).
let t: RouteTestApp;
let db: TestDatabase;
let project: CreatedProject;
let other: CreatedProject;

before(async () => {
  t = await routeTestApp('cappings');
  ({ db, project, other } = t);
});
after(() => t.close());

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, p: CreatedProject = project) => t.call(method, url, payload, { p });

const daily = { name: 'one promo a day', scope: 'label', label: 'promo', channels: ['email', 'sms'], max_sends: 1, window_amount: 1, window_unit: 'days', action: 'defer', max_delay_minutes: 1440 };

test('a capping rule is created, read, listed, replaced and deleted, and other projects never see it', async () => {
  const created = await call('POST', '/v1/cappings', daily);
  assert.equal(created.statusCode, 201, created.body);
  const rule = created.json();
  assert.equal(rule.enabled, true);
  assert.deepEqual({ ...rule, id: undefined, created_at: undefined, updated_at: undefined }, { ...daily, enabled: true, id: undefined, created_at: undefined, updated_at: undefined });

  assert.equal((await call('GET', `/v1/cappings/${rule.id}`)).json().name, 'one promo a day');
  assert.deepEqual((await call('GET', '/v1/cappings')).json().cappings.map((r: { id: string }) => r.id), [rule.id]);
  assert.deepEqual((await call('GET', '/v1/cappings', undefined, other)).json().cappings, []);
  assert.equal((await call('GET', `/v1/cappings/${rule.id}`, undefined, other)).json().error.code, 'capping_rule_not_found');

  const replaced = await call('PUT', `/v1/cappings/${rule.id}`, { name: 'three a week', scope: 'marketing', max_sends: 3, window_amount: 7, window_unit: 'days', action: 'skip' });
  assert.equal(replaced.statusCode, 200, replaced.body);
  assert.deepEqual([replaced.json().scope, replaced.json().label, replaced.json().channels, replaced.json().max_delay_minutes], ['marketing', null, [], null]);

  assert.equal((await call('DELETE', `/v1/cappings/${rule.id}`, undefined, other)).statusCode, 404);
  assert.equal((await call('DELETE', `/v1/cappings/${rule.id}`)).statusCode, 204);
  assert.equal((await call('GET', `/v1/cappings/${rule.id}`)).statusCode, 404);
});

test('a rule whose parts do not fit together is refused with invalid_capping_rule, a malformed one with the field', async () => {
  const bad = async (body: object, code: string) => {
    const res = await call('POST', '/v1/cappings', { ...daily, ...body });
    assert.equal(res.json().error?.code, code, res.body);
  };
  await bad({ label: null }, 'invalid_capping_rule');
  await bad({ scope: 'all' }, 'invalid_capping_rule');
  await bad({ max_delay_minutes: null }, 'invalid_capping_rule');
  await bad({ action: 'skip' }, 'invalid_capping_rule');
  await bad({ window_amount: 91 }, 'invalid_capping_rule');
  await bad({ channels: ['pigeon'] }, 'invalid_field');
  await bad({ max_sends: 0 }, 'invalid_field');
  await bad({ per: 3 }, 'unknown_field');
  assert.equal((await db.sql`select 1 from capping_rules`).length, 0);
});

test('quiet hours are set, read and removed; equal start and end are refused', async () => {
  assert.deepEqual((await call('GET', '/v1/quiet-hours')).json(), { quiet_hours: null });
  const set = await call('PUT', '/v1/quiet-hours', { start: '22:00', end: '08:00', action: 'defer' });
  assert.equal(set.statusCode, 200, set.body);
  assert.deepEqual((await call('GET', '/v1/quiet-hours')).json(), { quiet_hours: { start: '22:00', end: '08:00', action: 'defer' } });
  assert.equal((await call('PUT', '/v1/quiet-hours', { start: '22:00', end: '22:00', action: 'skip' })).json().error.code, 'invalid_quiet_hours');
  assert.equal((await call('PUT', '/v1/quiet-hours', { start: '24:00', end: '08:00', action: 'skip' })).json().error.code, 'invalid_field');
  assert.equal((await call('DELETE', '/v1/quiet-hours')).statusCode, 204);
  assert.deepEqual((await call('GET', '/v1/quiet-hours')).json(), { quiet_hours: null });
});
