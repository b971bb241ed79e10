import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeTestApp } from '../../../test/support/app.js';

// The health screen's JSON: a dashboard session only (no API key), a role in the project it names,
// and the same figures /readyz and /metrics give.
test('GET /v1/dashboard/health: readiness and the queue\'s gauges per topic, for a session with a role; refused to keys and to strangers', async (t) => {
  const h = await routeTestApp('health');
  t.after(() => h.close());
  const setup = await h.app.inject({ method: 'POST', url: '/v1/dashboard/setup', payload: { email: 'owner@example.com', password: 'correct horse battery' } });
  assert.equal(setup.statusCode, 201, setup.body);
  const cookie = String(setup.headers['set-cookie']).split(';')[0]!;
  const health = (projectId?: string) => h.app.inject({
    method: 'GET', url: '/v1/dashboard/health', headers: { cookie, ...(projectId ? { 'x-herald-project': projectId } : {}) },
  });

  await h.queue.enqueue(h.db.sql, [{ topic: 'health-probe', payload: {} }, { topic: 'health-probe', payload: {} }]);
  const r = await health(h.project.project_id);
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  const ready = (await h.app.inject({ method: 'GET', url: '/readyz' })).json();
  assert.deepEqual({ status: body.status, database: body.database, queue: body.queue }, ready);
  assert.equal(body.queue_backend, 'postgres');
  const probe = body.topics.find((x: { topic: string }) => x.topic === 'health-probe');
  assert.equal(probe.depth, 2);
  assert.equal(probe.dead_letters, 0);
  assert.ok(probe.oldest_age_seconds >= 0);
  assert.match(await (await h.app.inject({ method: 'GET', url: '/metrics' })).body, /herald_queue_depth\{topic="health-probe"\} 2/);
  assert.deepEqual(body.outbox, [], 'the PostgreSQL queue keeps no outbox');
  assert.equal(body.provider_breakers_open, null, 'this app runs no worker');

  assert.equal((await health()).json().error.code, 'project_header_required');
  assert.equal((await health('00000000-0000-4000-8000-000000000000')).json().error.code, 'role_forbidden');
  const keyed = await h.call('GET', '/v1/dashboard/health', undefined, { headers: { 'x-herald-project': h.project.project_id } });
  assert.equal(keyed.statusCode, 401, 'an API key does not read the instance\'s health');
});
