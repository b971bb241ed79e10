import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDatabase } from '../../../test/support/database.js';
import type { CreatedProject } from '../../store/projects.js';
import { addSuppressions } from '../../store/email-suppressions.js';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';

// The webhook routes through the whole app (auth, validation, the response contract) on a real database.
let t: RouteTestApp;
let db: TestDatabase;
let project: CreatedProject;
let other: CreatedProject;

before(async () => {
  t = await routeTestApp('webhooks');
  ({ db, project, other } = t);
});
after(() => t.close());

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, p: CreatedProject = project) => t.call(method, url, payload, { p });

test('an endpoint is created with its secret shown once, listed, changed, rotated and deleted', async () => {
  const created = await call('POST', '/v1/webhooks', { url: 'https://hooks.example.com/herald', event_types: ['message.sent', 'email.bounced', 'message.sent'], description: 'CRM' });
  assert.equal(created.statusCode, 201, created.body);
  const ep = created.json();
  assert.match(ep.secret, /^whsec_/);
  assert.deepEqual(ep.event_types, ['email.bounced', 'message.sent']);
  assert.equal(ep.enabled, true);
  // Sealed at rest: the secret's text is nowhere in the row.
  const [row] = await db.sql`select sealed::text as s from webhook_endpoints where id = ${ep.id}`;
  assert.ok(!String(row!.s).includes(ep.secret.slice(6, 20)));
  assert.ok(!Buffer.from(String(row!.s).slice(2), 'hex').toString('latin1').includes(ep.secret));

  const got = await call('GET', `/v1/webhooks/${ep.id}`);
  assert.equal(got.statusCode, 200);
  assert.equal(got.json().secret, undefined, 'never answered again');
  assert.ok(!got.body.includes(ep.secret));
  const list = await call('GET', '/v1/webhooks');
  assert.deepEqual(list.json().webhooks.map((w: { id: string }) => w.id), [ep.id]);
  assert.ok(!list.body.includes('whsec_'));
  assert.deepEqual((await call('GET', '/v1/webhooks', undefined, other)).json().webhooks, []);
  assert.equal((await call('GET', `/v1/webhooks/${ep.id}`, undefined, other)).json().error.code, 'webhook_not_found');

  const patched = await call('PATCH', `/v1/webhooks/${ep.id}`, { enabled: false, event_types: [], description: null });
  assert.equal(patched.statusCode, 200, patched.body);
  assert.deepEqual([patched.json().enabled, patched.json().event_types, patched.json().description], [false, [], null]);

  const rotated = await call('POST', `/v1/webhooks/${ep.id}/rotate-secret`);
  assert.equal(rotated.statusCode, 200, rotated.body);
  assert.notEqual(rotated.json().secret, ep.secret);
  assert.equal((await call('GET', `/v1/webhooks/${ep.id}`)).json().previous_secret_expires_at, rotated.json().previous_secret_expires_at);

  assert.equal((await call('DELETE', `/v1/webhooks/${ep.id}`, undefined, other)).statusCode, 404);
  assert.equal((await call('DELETE', `/v1/webhooks/${ep.id}`)).statusCode, 204);
  assert.equal((await call('GET', `/v1/webhooks/${ep.id}`)).statusCode, 404);
});

test('bad URLs, unknown event types and private addresses are refused', async () => {
  const refused = async (body: unknown) => (await call('POST', '/v1/webhooks', body)).json().error.code;
  assert.equal(await refused({ url: 'ftp://example.com/x' }), 'invalid_field');
  assert.equal(await refused({ url: 'not a url' }), 'invalid_field');
  assert.equal(await refused({ url: 'https://user:pw@example.com/' }), 'invalid_field');
  assert.equal(await refused({ url: 'https://example.com/', event_types: ['message.*'] }), 'invalid_field');
  assert.equal(await refused({ url: 'http://127.0.0.1:9000/' }), 'forbidden_address');
  assert.equal(await refused({ url: 'http://[::1]/' }), 'forbidden_address');
  assert.equal(await refused({ url: 'https://example.com/', secret: 'mine' }), 'unknown_field');
  assert.equal((await db.sql`select count(*)::int as n from webhook_endpoints where project_id = ${project.project_id}`)[0]!.n, 0);
});

test('a replay queues what an endpoint missed; its attempts page by cursor, newest first', async () => {
  const ep = (await call('POST', '/v1/webhooks', { url: 'https://hooks.example.com/r', enabled: false })).json();
  const from = new Date(Date.now() - 60_000).toISOString();
  await addSuppressions(db.sql, project.project_id, [{ address: 'r1@example.com', reason: 'hard_bounce' }, { address: 'r2@example.com', reason: 'unsubscribed' }]);
  const replay = await call('POST', `/v1/webhooks/${ep.id}/replay`, { since: from });
  assert.equal(replay.statusCode, 202, replay.body);
  assert.equal(replay.json().queued, 2);
  assert.equal((await call('POST', `/v1/webhooks/${ep.id}/replay`, { since: from, until: from })).json().error.code, 'invalid_field');
  assert.equal((await call('POST', `/v1/webhooks/${ep.id}/replay`, { since: from }, other)).statusCode, 404);

  const [e] = await db.sql`select id from webhook_events where project_id = ${project.project_id} and type = 'email.bounced'`;
  await db.sql`insert into webhook_attempts (endpoint_id, project_id, event_id, attempt, status_code, latency_ms, error, created_at)
    select ${ep.id}, ${project.project_id}, ${e!.id}, g, 500, 10 * g, 'HTTP 500', now() from generate_series(1, 5) g`;
  const first = await call('GET', `/v1/webhooks/${ep.id}/attempts?limit=3`);
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json().attempts.map((a: { attempt: number }) => a.attempt), [5, 4, 3]);
  assert.equal(first.json().attempts[0].status_code, 500);
  assert.equal(first.json().attempts[0].type, 'email.bounced');
  const second = await call('GET', `/v1/webhooks/${ep.id}/attempts?limit=3&cursor=${first.json().next_cursor}`);
  assert.deepEqual(second.json().attempts.map((a: { attempt: number }) => a.attempt), [2, 1]);
  assert.equal(second.json().next_cursor, null);
  assert.equal((await call('GET', `/v1/webhooks/${ep.id}/attempts`, undefined, other)).statusCode, 404);
});
