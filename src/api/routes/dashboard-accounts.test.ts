import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { testDatabase, type TestDatabase } from '../../../test/support/database.js';
import { testMasterKey } from '../../../test/support/keyring.js';
import { testClock, type TestClock } from '../../../test/support/clock.js';
import { silentLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { createEvents } from '../../worker/events.js';
import { createPostgresQueue } from '../../queue/postgres/queue.js';
import type { WorkQueue } from '../../queue/queue.js';
import { createProject, type CreatedProject } from '../../store/projects.js';
import { buildApp } from '../app.js';
import { loginLimits } from './dashboard-accounts.js';

// Dashboard accounts through the whole app: first-run setup, sessions, CSRF, roles, the sign-in
// limit and the audit log, on a real database with the clock driven by the test.
const { keyring } = testMasterKey();
let db: TestDatabase;
let queue: WorkQueue;
let app: FastifyInstance;
let clock: TestClock;
let project: CreatedProject;
let second: CreatedProject;

before(async () => {
  db = await testDatabase();
  clock = testClock();
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 3, clock });
  app = await buildApp({ keyring, sql: db.sql, queue, log: silentLogger(), metrics: createMetrics({ events: createEvents(), queue }), clock, checkResponses: true });
  project = await createProject(db.sql, 'alpha', keyring);
  second = await createProject(db.sql, 'beta', keyring);
});
after(async () => {
  await app.close();
  await queue.close();
  await db.close();
});

interface Session { cookie: string; csrf: string }

function sessionOf(res: { headers: Record<string, unknown>; json(): unknown }): Session {
  const set = String(res.headers['set-cookie']);
  const cookie = set.split(';')[0]!;
  return { cookie, csrf: (res.json() as { csrf_token: string }).csrf_token };
}

function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, o: { s?: Session; csrf?: string | false; projectId?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.s) headers.cookie = o.s.cookie;
  if (o.s && o.csrf !== false && method !== 'GET') headers['x-csrf-token'] = o.csrf ?? o.s.csrf;
  if (o.projectId) headers['x-herald-project'] = o.projectId;
  return app.inject({ method, url, headers, ...(o.body !== undefined ? { payload: o.body as object } : {}) });
}

const code = (res: { json(): unknown }) => (res.json() as { error?: { code: string } }).error?.code;
const segmentCount = async () => (await db.sql<{ n: number }[]>`select count(*)::int as n from segments`)[0]!.n;

let owner: Session;
let ownerEmail: string;
let ownerPassword: string;

test('the first visit creates the one owner; the password is stored as scrypt, the session token as its hash; cookies are HttpOnly, SameSite=Strict, Secure over https', async () => {
  assert.deepEqual((await call('GET', '/v1/dashboard/setup')).json(), { needs_setup: true });
  // Two first visits at once: one owner.
  const [a, b] = await Promise.all([
    call('POST', '/v1/dashboard/setup', { body: { email: 'owner@example.com', password: 'correct horse battery', name: 'Olive' } }),
    call('POST', '/v1/dashboard/setup', { body: { email: 'rival@example.com', password: 'another password' }, headers: { 'x-forwarded-proto': 'https' } }),
  ]);
  assert.deepEqual([a.statusCode, b.statusCode].sort(), [201, 409]);
  assert.equal(code(a.statusCode === 409 ? a : b), 'already_set_up');
  const won = a.statusCode === 201 ? a : b;
  const ops = await db.sql<{ email: string; password_hash: string; instance_owner: boolean }[]>`select email, password_hash, instance_owner from operators`;
  assert.equal(ops.length, 1);
  assert.equal(ops[0]!.instance_owner, true);
  assert.match(ops[0]!.password_hash, /^scrypt\$17\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  assert.ok(!ops[0]!.password_hash.includes('horse') && !ops[0]!.password_hash.includes('another'));
  const cookie = String(won.headers['set-cookie']);
  const [pair, ...attributes] = cookie.split('; ');
  assert.match(pair!, /^herald_session=[\w-]{43}$/);
  for (const a of ['Max-Age=43200', 'Path=/', 'HttpOnly', 'SameSite=Strict']) assert.ok(attributes.includes(a), `${a} in ${cookie}`);
  assert.equal(attributes.includes('Secure'), won === b, 'Secure exactly when the browser came over https');
  const token = cookie.split(';')[0]!.split('=')[1]!;
  const [stored] = await db.sql<{ token_hash: Buffer }[]>`select token_hash from operator_sessions`;
  assert.deepEqual(stored!.token_hash, createHash('sha256').update(token).digest());
  assert.deepEqual((await call('GET', '/v1/dashboard/setup')).json(), { needs_setup: false });

  owner = sessionOf(won);
  ownerEmail = won === a ? 'owner@example.com' : 'rival@example.com';
  ownerPassword = won === a ? 'correct horse battery' : 'another password';
  const me = (await call('GET', '/v1/dashboard/session', { s: owner })).json() as { operator: { email: string }; projects: { id: string; role: string }[] };
  assert.equal(me.operator.email, ownerEmail);
  assert.deepEqual(me.projects.map((p) => [p.id, p.role]).sort(), [[project.project_id, 'owner'], [second.project_id, 'owner']].sort());
  assert.equal((await call('GET', '/v1/dashboard/session')).statusCode, 401);
});

test('a session calls the project API for the project it names; a change without the CSRF token is refused and changes nothing; each change is in the audit log', async () => {
  assert.equal((await call('GET', '/v1/segments', { s: owner, projectId: project.project_id })).statusCode, 200);
  assert.equal(code(await call('GET', '/v1/segments', { s: owner })), 'project_header_required');
  assert.equal(code(await call('GET', '/v1/segments', { s: owner, projectId: '00000000-0000-4000-8000-000000000000' })), 'role_forbidden');

  const body = { name: 'gold', query: { attribute: 'tier', eq: 'gold' } };
  const noToken = await call('POST', '/v1/segments', { s: owner, projectId: project.project_id, body, csrf: false });
  assert.equal(noToken.statusCode, 403);
  assert.equal(code(noToken), 'csrf_token_invalid');
  assert.equal(code(await call('POST', '/v1/segments', { s: owner, projectId: project.project_id, body, csrf: 'x'.repeat(43) })), 'csrf_token_invalid');
  assert.equal(await segmentCount(), 0);

  const made = await call('POST', '/v1/segments', { s: owner, projectId: project.project_id, body });
  assert.equal(made.statusCode, 201, made.body);
  const [row] = await db.sql<{ project_id: string }[]>`select project_id from segments`;
  assert.equal(row!.project_id, project.project_id);
  const audit = (await call('GET', '/v1/dashboard/audit', { s: owner, projectId: project.project_id })).json() as { entries: { action: string; operator_email: string; after: unknown }[] };
  assert.equal(audit.entries[0]!.action, 'POST /v1/segments');
  assert.equal(audit.entries[0]!.operator_email, ownerEmail);
  assert.deepEqual(audit.entries[0]!.after, body);

  // Secrets a change carries never reach the log.
  const key = await call('POST', '/v1/project/keys', { s: owner, projectId: project.project_id, body: { kind: 'sdk' } });
  assert.equal(key.statusCode, 201, key.body);
  const [logged] = await db.sql<{ after: unknown }[]>`select after from audit_log where action = 'POST /v1/project/keys'`;
  assert.deepEqual(logged!.after, { kind: 'sdk' });
  assert.ok(!JSON.stringify(await db.sql`select * from audit_log`).includes((key.json() as { key: string }).key));
});

test('roles: a viewer reads and changes nothing, an editor changes but manages no keys, only an admin manages operators; role changes are audited before and after', async () => {
  const create = (email: string, role: string, as = owner) =>
    call('POST', '/v1/dashboard/operators', { s: as, projectId: project.project_id, body: { email, password: 'password of ' + email, role } });
  const viewer = await create('viewer@example.com', 'viewer');
  assert.equal(viewer.statusCode, 201, viewer.body);
  assert.equal((await create('editor@example.com', 'editor')).statusCode, 201);
  assert.equal(code(await create('VIEWER@example.com', 'viewer')), 'operator_email_taken');
  const login = async (email: string) => {
    const res = await call('POST', '/v1/dashboard/login', { body: { email, password: 'password of ' + email } });
    assert.equal(res.statusCode, 200, res.body);
    return sessionOf(res);
  };
  const v = await login('viewer@example.com');
  const e = await login('editor@example.com');

  assert.equal((await call('GET', '/v1/segments', { s: v, projectId: project.project_id })).statusCode, 200);
  const before = await segmentCount();
  const refused = await call('POST', '/v1/segments', { s: v, projectId: project.project_id, body: { name: 'v', query: { attribute: 'a', exists: true } } });
  assert.equal(refused.statusCode, 403);
  assert.equal(code(refused), 'role_forbidden');
  assert.equal(await segmentCount(), before);
  // No role in the other project.
  assert.equal(code(await call('GET', '/v1/segments', { s: v, projectId: second.project_id })), 'role_forbidden');

  assert.equal((await call('POST', '/v1/segments', { s: e, projectId: project.project_id, body: { name: 'e', query: { attribute: 'a', exists: true } } })).statusCode, 201);
  assert.equal(code(await call('GET', '/v1/project/keys', { s: e, projectId: project.project_id })), 'role_forbidden');
  assert.equal(code(await create('x@example.com', 'viewer', e)), 'role_forbidden');
  assert.equal(code(await call('GET', '/v1/dashboard/audit', { s: e, projectId: project.project_id })), 'role_forbidden');

  // The owner makes the viewer an admin, then takes it out of the project: each takes effect at its next call.
  const vid = (viewer.json() as { id: string }).id;
  const up = await call('PUT', `/v1/dashboard/operators/${vid}/role`, { s: owner, projectId: project.project_id, body: { role: 'admin' } });
  assert.deepEqual(up.json(), { operator_id: vid, role: 'admin', previous_role: 'viewer' });
  assert.equal((await call('GET', '/v1/project/keys', { s: v, projectId: project.project_id })).statusCode, 200);
  // An admin cannot grant owner.
  assert.equal(code(await call('PUT', `/v1/dashboard/operators/${vid}/role`, { s: v, projectId: project.project_id, body: { role: 'owner' } })), 'role_forbidden');
  assert.equal((await call('DELETE', `/v1/dashboard/operators/${vid}/role`, { s: owner, projectId: project.project_id })).statusCode, 200);
  assert.equal(code(await call('GET', '/v1/segments', { s: v, projectId: project.project_id })), 'role_forbidden');
  const entries = await db.sql<{ action: string; before: unknown; after: unknown; target: string }[]>`
    select action, before, after, target from audit_log where target = ${vid} order by id`;
  assert.deepEqual(entries.map((x) => [x.action, x.before, x.after]), [
    ['operator created', null, { id: vid, email: 'viewer@example.com', name: '', instance_owner: false, role: 'viewer' }],
    ['role set', { role: 'viewer' }, { role: 'admin' }],
    ['role removed', { role: 'admin' }, null],
  ]);
});

test('sign-in is limited per email: the 11th attempt in 15 minutes is a 429, even with the right password, until the window moves on', async () => {
  const attempt = (password: string) => call('POST', '/v1/dashboard/login', { body: { email: 'editor@example.com', password } });
  for (let i = 0; i < loginLimits.perEmail; i++) assert.equal(code(await attempt('wrong password ' + i)), 'invalid_credentials');
  const limited = await attempt('password of editor@example.com');
  assert.equal(limited.statusCode, 429);
  assert.equal(code(limited), 'too_many_login_attempts');
  // When the oldest failure leaves the window: 15 minutes after it, less the seconds the ten attempts took.
  const retryAfter = Number(limited.headers['retry-after']);
  assert.ok(retryAfter > loginLimits.windowMs / 1000 - 120 && retryAfter <= loginLimits.windowMs / 1000, `Retry-After ${retryAfter}`);
  // Another email from the same address is not locked by these.
  assert.equal(code(await call('POST', '/v1/dashboard/login', { body: { email: 'nobody@example.com', password: 'whatever it is' } })), 'invalid_credentials');
  clock.advance(loginLimits.windowMs + 1000);
  assert.equal((await attempt('password of editor@example.com')).statusCode, 200);
});

test('sign-out ends the session (with its CSRF token); an idle session expires after 12 hours', async () => {
  const res = await call('POST', '/v1/dashboard/login', { body: { email: ownerEmail, password: ownerPassword } });
  const s = sessionOf(res);
  assert.equal(code(await call('POST', '/v1/dashboard/logout', { s, csrf: false })), 'csrf_token_invalid');
  assert.equal((await call('POST', '/v1/dashboard/logout', { s })).statusCode, 204);
  assert.equal((await call('GET', '/v1/dashboard/session', { s })).statusCode, 401);

  clock.advance(12 * 3600_000 + 1000);
  assert.equal(code(await call('GET', '/v1/dashboard/session', { s: owner })), 'unauthorized');
  assert.equal(code(await call('GET', '/v1/segments', { s: owner, projectId: project.project_id })), 'unauthorized');
});
