/**
 * The inbox end to end on real PostgreSQL: sends flagged `push.inbox` through the API, fanned out
 * by the real fan-out step, read and marked through the REST and SDK routes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';
import { testClock } from '../../../test/support/clock.js';
import { silentLogger } from '../../observability/logger.js';
import { identityToken } from '../../domain/identity-token.js';
import { fanoutHandler } from '../../worker/fanout.js';
import { topics } from '../../worker/topics.js';
import { dropExpiredInboxWeeks } from '../../store/inbox.js';
import type { CreatedProject } from '../../store/projects.js';

const clock = testClock();
let h: RouteTestApp;
before(async () => { h = await routeTestApp('inbox', { clock }); });
after(async () => { await h.close(); });

const uid = (p: string) => `${p}-${randomUUID()}`;
const iosToken = () => randomBytes(32).toString('hex');
const sdk = (url: string, payload: unknown, p: CreatedProject = h.project) =>
  h.app.inject({ method: 'POST', url, payload: payload as object, headers: { authorization: `Bearer ${p.sdk_key}` } });
const tokenOf = (customId: string) => identityToken(h.project.identity_secret, customId);

async function device(customId: string | null, installId = uid('dev')): Promise<string> {
  const r = await h.call('POST', '/v1/sdk/installations', { install_id: installId, platform: 'ios', push_token: iosToken(), ...(customId ? { custom_id: customId } : {}) });
  assert.equal(r.statusCode, 200, r.body);
  return installId;
}

/** Sends through the API, then runs the fan-out step on every fan-out job waiting. */
async function send(recipients: Record<string, unknown>, push: Record<string, unknown> = {}): Promise<string> {
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'inbox', recipients, push: { title: 'Hello', body: 'World', inbox: true, ...push } });
  assert.equal(r.statusCode, 202, r.body);
  await fanOutAll();
  return r.json().message_id as string;
}

async function fanOutAll(): Promise<void> {
  const jobs = await h.queue.claim(topics.fanout, { max: 100, leaseMs: 30_000, waitMs: 0 });
  if (jobs.length) await fanoutHandler({ sql: h.db.sql, queue: h.queue, log: silentLogger(), clock })(jobs);
}

const page = async (q: string) => {
  const r = await h.call('GET', `/v1/inbox?${q}`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json() as { items: { id: string; title: string; read_at: string | null; opened_at: string | null; archived_at: string | null; deeplink: string | null; data: unknown }[]; unread: number; next_cursor: string | null };
};

test('one item per message for every device of a custom_id, one per anonymous installation, none without the flag', async () => {
  const alice = uid('alice');
  await device(alice);
  await device(alice);
  await device(alice);
  const anon = await device(null);
  const flagged = await send({ custom_ids: [alice], install_ids: [anon] }, { deeplink: 'app://news/1', data: { k: 'v' } });
  await send({ custom_ids: [alice] }, { inbox: false, title: 'not kept' });
  await send({ custom_ids: [alice] }, { inbox: undefined, title: 'not kept either' });
  await send({ tokens: [{ platform: 'ios', token: iosToken() }] }, { title: 'a bare token has no inbox' });

  const [deliveries] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from deliveries where message_id = ${flagged}`;
  assert.equal(deliveries!.n, 4, 'three devices and the installation each got their push');
  const a = await page(`custom_id=${alice}`);
  assert.deepEqual(a.items.map((i) => i.id), [flagged], 'three devices share one item');
  assert.equal(a.unread, 1);
  assert.equal(a.items[0]!.deeplink, 'app://news/1');
  assert.deepEqual(a.items[0]!.data, { k: 'v' });
  const i = await page(`install_id=${anon}`);
  assert.deepEqual(i.items.map((x) => x.id), [flagged]);
  const [all] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from inbox_items`;
  assert.equal(all!.n, 2, 'nothing else was kept');
});

test('read state: the app reads and marks its profile\'s inbox with its token; opened and archived are kept per item', async () => {
  const bob = uid('bob');
  await device(bob);
  await device(bob);
  const first = await send({ custom_ids: [bob] }, { title: 'first' });
  const second = await send({ custom_ids: [bob] }, { title: 'second' });
  const third = await send({ custom_ids: [bob] }, { title: 'third' });

  const fetched = await sdk('/v1/sdk/inbox', { custom_id: bob, identity_token: tokenOf(bob) });
  assert.equal(fetched.statusCode, 200, fetched.body);
  assert.deepEqual(fetched.json().items.map((x: { id: string }) => x.id), [third, second, first], 'newest first');
  assert.equal(fetched.json().unread, 3);

  const read = await sdk('/v1/sdk/inbox/mark', { custom_id: bob, identity_token: tokenOf(bob), ids: [second], action: 'read' });
  assert.equal(read.statusCode, 200, read.body);
  assert.deepEqual(read.json(), { updated: 1, unread: 2 });
  const again = await sdk('/v1/sdk/inbox/mark', { custom_id: bob, identity_token: tokenOf(bob), ids: [second], action: 'read' });
  assert.deepEqual(again.json(), { updated: 0, unread: 2 }, 'marking twice changes nothing');

  assert.deepEqual((await h.call('POST', '/v1/inbox/mark', { custom_id: bob, ids: [first], action: 'opened' })).json(), { updated: 1, unread: 1 }, 'opening reads');
  assert.deepEqual((await h.call('POST', '/v1/inbox/mark', { custom_id: bob, ids: [third], action: 'archived' })).json(), { updated: 1, unread: 0 });
  const shown = await page(`custom_id=${bob}`);
  assert.deepEqual(shown.items.map((x) => x.id), [second, first], 'an archived item leaves the inbox');
  assert.ok(shown.items[1]!.opened_at && shown.items[1]!.read_at);
  assert.equal(shown.items[0]!.opened_at, null);
  const archived = await page(`custom_id=${bob}&archived=true`);
  assert.deepEqual(archived.items.map((x) => x.id), [third]);

  await send({ custom_ids: [bob] }, { title: 'fourth' });
  assert.equal((await page(`custom_id=${bob}`)).unread, 1);
  assert.deepEqual((await h.call('POST', '/v1/inbox/mark', { custom_id: bob, all: true, action: 'read' })).json(), { updated: 1, unread: 0 });

  // Another project sees none of it.
  const other = await h.call('GET', `/v1/inbox?custom_id=${bob}`, undefined, { p: h.other });
  assert.deepEqual(other.json(), { items: [], unread: 0, next_cursor: null });
  const otherMark = await h.call('POST', '/v1/inbox/mark', { custom_id: bob, all: true, action: 'archived' }, { p: h.other });
  assert.equal(otherMark.json().updated, 0);
});

test('a page is a keyset page: every item once, newest first, whatever arrives meanwhile', async () => {
  const carol = uid('carol');
  await device(carol);
  const sent: string[] = [];
  for (let i = 0; i < 7; i++) sent.push(await send({ custom_ids: [carol] }, { title: `n${i}` }));
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const p = await page(`custom_id=${carol}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    seen.push(...p.items.map((x) => x.id));
    assert.equal(p.unread, 7 + (pages ? 1 : 0));
    cursor = p.next_cursor;
    // A new item after the first page goes on top: it neither repeats an item nor pushes one off.
    if (pages++ === 0) await send({ custom_ids: [carol] }, { title: 'newer' });
  } while (cursor);
  assert.equal(pages, 3);
  assert.deepEqual(seen, [...sent].reverse());

  const bad = await h.call('GET', `/v1/inbox?custom_id=${carol}&cursor=bm90LWEtY3Vyc29y`);
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_field');
  const neither = await h.call('GET', '/v1/inbox');
  assert.equal(neither.json().error.code, 'missing_field');
  const both = await h.call('POST', '/v1/inbox/mark', { custom_id: carol, install_id: 'x', all: true, action: 'read' });
  assert.equal(both.json().error.code, 'invalid_field');
});

test('one user can never read or mark another\'s inbox with the SDK key', async () => {
  const victim = uid('victim');
  const mallory = uid('mallory');
  const attached = await device(victim);
  await send({ custom_ids: [victim] }, { title: 'private' });
  const refused = (r: { statusCode: number; json(): { error: { code: string } } }, code: string) => {
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error.code, code);
  };
  refused(await sdk('/v1/sdk/inbox', { custom_id: victim }), 'identity_required');
  refused(await sdk('/v1/sdk/inbox', { custom_id: victim, identity_token: tokenOf(mallory) }), 'invalid_identity_token');
  refused(await sdk('/v1/sdk/inbox', { custom_id: victim, identity_token: identityToken(h.other.identity_secret, victim) }), 'invalid_identity_token');
  refused(await sdk('/v1/sdk/inbox', { custom_id: victim, identity_token: 'f'.repeat(64) }), 'invalid_identity_token');
  refused(await sdk('/v1/sdk/inbox', { install_id: attached }), 'identity_required');
  refused(await sdk('/v1/sdk/inbox/mark', { custom_id: victim, identity_token: tokenOf(mallory), all: true, action: 'archived' }), 'invalid_identity_token');
  refused(await sdk('/v1/sdk/inbox/mark', { install_id: attached, all: true, action: 'archived' }), 'identity_required');
  const p = await page(`custom_id=${victim}`);
  assert.equal(p.unread, 1, 'the refused marks changed nothing');
  assert.equal(p.items[0]!.archived_at, null);
  // Mallory's own token reads Mallory's inbox, which is empty; the SDK key of another project reads nothing.
  const own = await sdk('/v1/sdk/inbox', { custom_id: mallory, identity_token: tokenOf(mallory) });
  assert.deepEqual(own.json(), { items: [], unread: 0, next_cursor: null });
  const elsewhere = await sdk('/v1/sdk/inbox', { custom_id: victim, identity_token: identityToken(h.other.identity_secret, victim) }, h.other);
  assert.deepEqual(elsewhere.json(), { items: [], unread: 0, next_cursor: null });
  const noKey = await h.app.inject({ method: 'POST', url: '/v1/sdk/inbox', payload: { custom_id: victim } });
  assert.equal(noKey.statusCode, 401);
  assert.equal(noKey.json().error.code, 'unauthorized');
});

test('a fan-out run again (a redelivered job, a retried page) adds no item and keeps the read state', async () => {
  const dave = uid('dave');
  await device(dave);
  await device(dave);
  const r = await h.call('POST', '/v1/transactional/send', { group_id: 'inbox', recipients: { custom_ids: [dave] }, push: { title: 'once', body: 'b', inbox: true } });
  const id = r.json().message_id as string;
  const jobs = await h.queue.claim(topics.fanout, { max: 100, leaseMs: 30_000, waitMs: 0 });
  const handler = fanoutHandler({ sql: h.db.sql, queue: h.queue, log: silentLogger(), clock });
  await handler(jobs);
  await handler(jobs);
  assert.equal((await page(`custom_id=${dave}`)).items.length, 1);
  await h.call('POST', '/v1/inbox/mark', { custom_id: dave, ids: [id], action: 'read' });
  // The fan-out made again from scratch, as if its first commit had been lost after the items.
  await h.db.sql`delete from deliveries where message_id = ${id}`;
  await h.db.sql`update messages set fanned_out_at = null where id = ${id}`;
  await handler(jobs);
  const [n] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from deliveries where message_id = ${id}`;
  assert.equal(n!.n, 2, 'the deliveries were made again');
  const p = await page(`custom_id=${dave}`);
  assert.equal(p.items.length, 1, 'the item was not');
  assert.ok(p.items[0]!.read_at, 'and it is still read');
  assert.equal(p.unread, 0);
});

test('the unread count is exact under concurrent marks and new items', async () => {
  const erin = uid('erin');
  await device(erin);
  const initial: string[] = [];
  for (let i = 0; i < 20; i++) initial.push(await send({ custom_ids: [erin] }, { title: `m${i}` }));
  const checks: Promise<void>[] = [];
  // Readers: every page holds the whole inbox, so its count must be the page's own unread items.
  const reader = async () => {
    for (let i = 0; i < 15; i++) {
      const p = await page(`custom_id=${erin}&limit=100`);
      assert.equal(p.unread, p.items.filter((x) => x.read_at === null).length, 'the count is that of the page\'s snapshot');
    }
  };
  const writer = async () => { for (let i = 0; i < 10; i++) await send({ custom_ids: [erin] }, { title: `new${i}` }); };
  const marker = async (ids: string[]) => {
    for (const id of ids) {
      const r = await h.call('POST', '/v1/inbox/mark', { custom_id: erin, ids: [id], action: 'read' });
      assert.equal(r.statusCode, 200);
    }
  };
  const markAll = async () => {
    for (let i = 0; i < 5; i++) assert.equal((await h.call('POST', '/v1/inbox/mark', { custom_id: erin, all: true, action: 'read' })).statusCode, 200);
  };
  checks.push(reader(), reader(), writer(), marker(initial.slice(0, 10)), marker(initial.slice(5, 15)), markAll());
  await Promise.all(checks);
  const [truth] = await h.db.sql<{ n: number }[]>`
    select count(*)::int as n from inbox_items where project_id = ${h.project.project_id} and owner = ${erin} and read_at is null`;
  const final = await page(`custom_id=${erin}&limit=100`);
  assert.equal(final.items.length, 30);
  assert.equal(final.unread, truth!.n);
  const last = await h.call('POST', '/v1/inbox/mark', { custom_id: erin, all: true, action: 'read' });
  assert.deepEqual(last.json(), { updated: truth!.n, unread: 0 });
});

test('erasing a person removes their profile\'s inbox and their devices\'', async () => {
  const gone = uid('gone');
  const kept = uid('kept');
  await device(gone);
  await device(kept);
  await send({ custom_ids: [gone, kept] }, { title: 'both' });
  assert.equal((await h.call('DELETE', `/v1/profiles/${gone}`)).statusCode, 200);
  assert.deepEqual((await page(`custom_id=${gone}`)).items, []);
  assert.equal((await page(`custom_id=${kept}`)).items.length, 1, 'the other recipient keeps theirs');
});

test('items past retention leave the inbox at once and their week is dropped whole', async () => {
  const frank = uid('frank');
  await device(frank);
  const old = await send({ custom_ids: [frank] }, { title: 'old' });
  const partitions = async () => (await h.db.sql<{ name: string }[]>`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'inbox_items'::regclass`).map((r) => r.name);
  const before = await partitions();
  clock.advance(98 * 86_400_000);
  const fresh = await send({ custom_ids: [frank] }, { title: 'fresh' });
  const p = await page(`custom_id=${frank}`);
  assert.deepEqual(p.items.map((x) => x.id), [fresh], 'the 98-day-old item is no longer shown');
  assert.equal(p.unread, 1, 'nor counted');
  const [kept] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from inbox_items where message_id = ${old}`;
  assert.equal(kept!.n, 1, 'its row is still there until its week is dropped');

  const dropped = await dropExpiredInboxWeeks(h.db.sql, new Date(clock.now()), 90);
  assert.deepEqual(dropped, before, 'every week of the earlier tests was past retention');
  const [gone] = await h.db.sql<{ n: number }[]>`select count(*)::int as n from inbox_items where message_id = ${old}`;
  assert.equal(gone!.n, 0);
  assert.equal((await partitions()).length, 1, 'the new week stays');
  assert.deepEqual((await page(`custom_id=${frank}`)).items.map((x) => x.id), [fresh]);
  assert.deepEqual(await dropExpiredInboxWeeks(h.db.sql, new Date(clock.now()), 90), [], 'nothing more to drop');
});
