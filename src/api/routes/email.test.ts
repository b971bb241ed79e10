import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { testDatabase, type TestDatabase } from '../../../test/support/database.js';
import { silentLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { createEvents } from '../../worker/events.js';
import { createPostgresQueue } from '../../queue/postgres/queue.js';
import type { WorkQueue } from '../../queue/queue.js';
import { createProject, type CreatedProject } from '../../store/projects.js';
import { addSuppressions, findSuppressed } from '../../store/email-suppressions.js';
import { signUnsubscribeToken } from '../../domain/unsubscribe-token.js';
import { buildApp } from '../app.js';
import { testMasterKey } from '../../../test/support/keyring.js';

const { keyring } = testMasterKey();

// The email routes on a real database, through the whole app (auth hook, error handler, parsers).
const secret = 'unsubscribe-secret-for-the-tests';
let db: TestDatabase;
let queue: WorkQueue;
let app: FastifyInstance;
let project: CreatedProject;
let other: CreatedProject;

before(async () => {
  db = await testDatabase();
  queue = createPostgresQueue({ sql: db.sql, log: silentLogger(), maxAttempts: 3 });
  app = await buildApp({ keyring, sql: db.sql, queue, log: silentLogger(), metrics: createMetrics({ events: createEvents(), queue }), checkResponses: true, unsubscribeSecret: secret });
  project = await createProject(db.sql, 'email', keyring);
  other = await createProject(db.sql, 'other', keyring);
});
after(async () => {
  await app.close();
  await queue.close();
  await db.close();
});

const rest = (p: CreatedProject = project) => ({ authorization: `Bearer ${p.rest_key}` });
const oneClick = (token: string, payload = 'List-Unsubscribe=One-Click', type = 'application/x-www-form-urlencoded') =>
  app.inject({ method: 'POST', url: `/v1/email/unsubscribe/${token}`, headers: { 'content-type': type }, payload });
const suppressedRows = async (projectId: string) =>
  db.sql<{ address: string; reason: string }[]>`select address, reason from email_suppressions where project_id = ${projectId} order by address`;

test('a one-click POST suppresses the token\'s address for the token\'s project only', async () => {
  const token = signUnsubscribeToken(secret, project.project_id, 'Reader.One@Example.com', new Date());
  const r = await oneClick(token);
  assert.equal(r.statusCode, 200);
  assert.match(r.headers['content-type'] as string, /^text\/html/);
  assert.deepEqual(await findSuppressed(db.sql, project.project_id, ['reader.one@example.com', 'READER.ONE@example.com']), new Set(['reader.one@example.com']));
  assert.equal((await findSuppressed(db.sql, other.project_id, ['reader.one@example.com'])).size, 0);
  // Mail clients may POST again: still 200, still one row.
  assert.equal((await oneClick(token)).statusCode, 200);
  assert.deepEqual((await suppressedRows(project.project_id)).filter((x) => x.address === 'reader.one@example.com'), [{ address: 'reader.one@example.com', reason: 'unsubscribed' }]);
});

test('the link of a 254-character address (the longest SMTP carries) unsubscribes it', async () => {
  // RFC 5321 section 4.5.3.1: a 64-octet local part, 255-octet paths; 254 characters between the brackets.
  const address = 'l'.repeat(64) + '@' + ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(57), 'com'].join('.');
  assert.equal(address.length, 254);
  const token = signUnsubscribeToken(secret, project.project_id, address, new Date());
  assert.ok(token.length > 100);
  const page = await app.inject({ method: 'GET', url: `/v1/email/unsubscribe/${token}` });
  assert.equal(page.statusCode, 200, page.body);
  const r = await oneClick(token);
  assert.equal(r.statusCode, 200, r.body);
  assert.equal((await findSuppressed(db.sql, project.project_id, [address])).size, 1);
});

test('multipart one-click bodies are accepted too (RFC 8058 section 3.2)', async () => {
  const token = signUnsubscribeToken(secret, project.project_id, 'multipart@example.com', new Date());
  const boundary = 'XyZ123';
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`;
  assert.equal((await oneClick(token, body, `multipart/form-data; boundary=${boundary}`)).statusCode, 200);
  assert.equal((await findSuppressed(db.sql, project.project_id, ['multipart@example.com'])).size, 1);
});

test('a tampered or foreign token is refused with a stable code and stores nothing', async () => {
  const before = await db.sql`select count(*)::int as n from email_suppressions`;
  const token = signUnsubscribeToken(secret, project.project_id, 'victim@example.com', new Date());
  const forged = signUnsubscribeToken('another-secret-of-enough-length!', project.project_id, 'victim@example.com', new Date());
  const flipped = token.slice(0, 5) + (token[5] === 'A' ? 'B' : 'A') + token.slice(6);
  for (const bad of [forged, flipped, 'not-a-token', token + 'x']) {
    const r = await oneClick(bad);
    assert.equal(r.statusCode, 400, bad);
    assert.equal(r.json().error.code, 'invalid_unsubscribe_token');
  }
  const get = await app.inject({ method: 'GET', url: `/v1/email/unsubscribe/${forged}` });
  assert.equal(get.statusCode, 400);
  assert.equal(get.json().error.code, 'invalid_unsubscribe_token');
  const afterCount = await db.sql`select count(*)::int as n from email_suppressions`;
  assert.equal(afterCount[0]!.n, before[0]!.n);
});

test('a token issued more than a year ago is refused as expired and changes nothing; one from 11 months ago works', async () => {
  const day = 24 * 3600 * 1000;
  const old = signUnsubscribeToken(secret, project.project_id, 'old-reader@example.com', new Date(Date.now() - 366 * day));
  const post = await oneClick(old);
  assert.equal(post.statusCode, 410);
  assert.equal(post.json().error.code, 'expired_unsubscribe_token');
  const get = await app.inject({ method: 'GET', url: `/v1/email/unsubscribe/${old}` });
  assert.equal(get.statusCode, 410);
  assert.equal((await findSuppressed(db.sql, project.project_id, ['old-reader@example.com'])).size, 0);
  const recent = signUnsubscribeToken(secret, project.project_id, 'recent-reader@example.com', new Date(Date.now() - 330 * day));
  assert.equal((await oneClick(recent)).statusCode, 200);
  assert.equal((await findSuppressed(db.sql, project.project_id, ['recent-reader@example.com'])).size, 1);
});

test('a POST without List-Unsubscribe=One-Click changes nothing', async () => {
  const token = signUnsubscribeToken(secret, project.project_id, 'careful@example.com', new Date());
  for (const [payload, type] of [['List-Unsubscribe=Yes', 'application/x-www-form-urlencoded'], ['', 'application/x-www-form-urlencoded']]) {
    const r = await oneClick(token, payload, type);
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, 'invalid_unsubscribe_request');
  }
  const json = await oneClick(token, '{"List-Unsubscribe":"One-Click"}', 'application/json');
  assert.equal(json.statusCode, 400);
  assert.equal((await findSuppressed(db.sql, project.project_id, ['careful@example.com'])).size, 0);
});

test('GET shows a page whose form POSTs, and unsubscribes nobody', async () => {
  const token = signUnsubscribeToken(secret, project.project_id, 'scanned@example.com', new Date());
  const r = await app.inject({ method: 'GET', url: `/v1/email/unsubscribe/${token}` });
  assert.equal(r.statusCode, 200);
  assert.match(r.headers['content-type'] as string, /^text\/html/);
  assert.match(r.body, /<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">/);
  assert.match(r.headers['content-security-policy'] as string, /default-src 'none'/);
  assert.equal((await findSuppressed(db.sql, project.project_id, ['scanned@example.com'])).size, 0);
});

test('the suppression list pages by address with a cursor, per project, REST key only', async () => {
  const addresses = Array.from({ length: 5 }, (_, i) => `page${i}+tag@example.com`);
  assert.equal(await addSuppressions(db.sql, other.project_id, addresses.map((address) => ({ address, reason: 'hard_bounce' as const, detail: '550 5.1.1' }))), 5);
  assert.equal(await addSuppressions(db.sql, other.project_id, [{ address: 'PAGE0+tag@example.com', reason: 'manual' }]), 0, 'already listed');
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/v1/email/suppressions?limit=2${cursor !== null ? `&cursor=${cursor}` : ''}`;
    const r = await app.inject({ method: 'GET', url, headers: rest(other) });
    assert.equal(r.statusCode, 200);
    const body: { suppressions: { address: string; reason: string; detail: string | null }[]; next_cursor: string | null } = r.json();
    assert.ok(body.suppressions.length <= 2);
    for (const s of body.suppressions) {
      assert.equal(s.reason, 'hard_bounce');
      assert.equal(s.detail, '550 5.1.1');
      seen.push(s.address);
    }
    cursor = body.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, addresses);

  const sdk = await app.inject({ method: 'GET', url: '/v1/email/suppressions', headers: { authorization: `Bearer ${other.sdk_key}` } });
  assert.equal(sdk.statusCode, 403);
  const none = await app.inject({ method: 'GET', url: '/v1/email/suppressions' });
  assert.equal(none.statusCode, 401);
  const badCursor = await app.inject({ method: 'GET', url: '/v1/email/suppressions?cursor=a%20b', headers: rest(other) });
  assert.equal(badCursor.statusCode, 400);
  assert.equal(badCursor.json().error.code, 'invalid_field');
  // Cursors are base64url of an address; ones that decode to U+0000, to bytes that are not UTF-8, or
  // that are not spelled as this API spells them, are refused before any query.
  for (const cursor of [Buffer.from('a\u0000b').toString('base64url'), 'AA', Buffer.from([0xff, 0xfe]).toString('base64url'), 'YWJjZB']) {
    const r = await app.inject({ method: 'GET', url: `/v1/email/suppressions?cursor=${cursor}`, headers: rest(other) });
    assert.equal(r.statusCode, 400, `${cursor}: ${r.body}`);
    assert.equal(r.json().error.code, 'invalid_field');
    assert.match(r.json().error.message, /^querystring\.cursor /);
  }
});

test('DELETE takes an address off the list; an absent one is 404 suppression_not_found', async () => {
  const address = `removable-${randomUUID()}@example.com`;
  await addSuppressions(db.sql, project.project_id, [{ address, reason: 'manual' }]);
  await addSuppressions(db.sql, other.project_id, [{ address, reason: 'manual' }]);
  const r = await app.inject({ method: 'DELETE', url: `/v1/email/suppressions/${encodeURIComponent(address.toUpperCase())}`, headers: rest() });
  assert.equal(r.statusCode, 204);
  assert.equal((await findSuppressed(db.sql, project.project_id, [address])).size, 0);
  assert.equal((await findSuppressed(db.sql, other.project_id, [address])).size, 1, 'the other project keeps its entry');
  const again = await app.inject({ method: 'DELETE', url: `/v1/email/suppressions/${encodeURIComponent(address)}`, headers: rest() });
  assert.equal(again.statusCode, 404);
  assert.equal(again.json().error.code, 'suppression_not_found');
});

test('an unsubscribe for a deleted project answers 200 and stores nothing', async () => {
  const gone = await createProject(db.sql, 'gone', keyring);
  const token = signUnsubscribeToken(secret, gone.project_id, 'late@example.com', new Date());
  await db.sql`delete from projects where id = ${gone.project_id}`;
  assert.equal((await oneClick(token)).statusCode, 200);
  const [row] = await db.sql`select count(*)::int as n from email_suppressions where project_id = ${gone.project_id}`;
  assert.equal(row!.n, 0);
});
