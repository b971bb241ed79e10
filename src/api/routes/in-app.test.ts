/**
 * In-app messages end to end on real PostgreSQL through the whole app: created and started over
 * the REST key, synced, checked and counted over the SDK key, with the injected clock.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { routeTestApp, type RouteTestApp } from '../../../test/support/app.js';
import { testClock } from '../../../test/support/clock.js';
import type { CreatedProject } from '../../store/projects.js';
import { deleteOldInAppEvents } from '../../store/in-app.js';

const clock = testClock();
let h: RouteTestApp;
before(async () => { h = await routeTestApp('in-app', { clock }); });
after(async () => { await h.close(); });

const uid = (p: string) => `${p}-${randomUUID()}`;
const sdk = (url: string, payload: unknown, p: CreatedProject = h.project) =>
  h.app.inject({ method: 'POST', url, payload: payload as object, headers: { authorization: `Bearer ${p.sdk_key}` } });

interface Synced { id: string; version: number; content: Record<string, unknown>; priority: number; ends_at: string | null }

/** A device of `customId` (null: anonymous), registered with the REST key. */
async function device(customId: string | null, o: { p?: CreatedProject; timezone?: string } = {}): Promise<string> {
  const installId = uid('dev');
  const r = await h.call('POST', '/v1/sdk/installations', {
    install_id: installId, platform: 'web', ...(customId ? { custom_id: customId } : {}), ...(o.timezone ? { timezone: o.timezone } : {}),
  }, { p: o.p });
  assert.equal(r.statusCode, 200, r.body);
  return installId;
}

async function setAttributes(customId: string, attributes: Record<string, unknown>, p: CreatedProject = h.project): Promise<void> {
  const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: customId }, attributes }], { p });
  assert.equal(r.statusCode, 200, r.body);
}

/** Creates and starts a message; returns its id. */
async function running(body: Record<string, unknown> = {}, p: CreatedProject = h.project): Promise<string> {
  const c = await h.call('POST', '/v1/in-app-messages', {
    name: 'Hello', format: 'modal', content: { title: 'Hi', body: 'There' }, trigger: { type: 'session_start' }, ...body,
  }, { p });
  assert.equal(c.statusCode, 201, c.body);
  const id = c.json().id as string;
  const s = await h.call('POST', `/v1/in-app-messages/${id}/start`, undefined, { p });
  assert.equal(s.statusCode, 200, s.body);
  assert.equal(s.json().status, 'running');
  return id;
}

async function sync(installId: string, p: CreatedProject = h.project): Promise<Synced[]> {
  const r = await sdk('/v1/sdk/in-app/sync', { install_id: installId }, p);
  assert.equal(r.statusCode, 200, r.body);
  return r.json().messages as Synced[];
}

async function check(installId: string, messageId: string, version = 1, p: CreatedProject = h.project): Promise<{ show: boolean; reason?: string }> {
  const r = await sdk('/v1/sdk/in-app/check', { install_id: installId, message_id: messageId, version }, p);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

let seq = 0;
const event = (messageId: string, type: 'impression' | 'click' | 'dismiss', extra: Record<string, unknown> = {}) =>
  ({ id: `e${++seq}-${randomBytes(4).toString('hex')}`, message_id: messageId, version: 1, type, time: new Date(clock.now()).toISOString(), ...extra });

async function report(installId: string, events: unknown[], p: CreatedProject = h.project): Promise<{ stored: number; duplicates: number; ignored: number }> {
  const r = await sdk('/v1/sdk/in-app/events', { install_id: installId, events }, p);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

async function stats(messageId: string) {
  const r = await h.call('GET', `/v1/stats/in-app/${messageId}`);
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

const ids = (ms: Synced[]) => ms.map((m) => m.id);

test('create, start, sync rendered for the profile, check, count, stop: absent from the next sync and refused', async () => {
  const alice = uid('alice');
  await setAttributes(alice, { first_name: 'Alice', tier: 'gold' });
  const dev = await device(alice);
  const id = await running({
    content: { title: 'Hi {{ first_name }}', body: 'Gold only', buttons: [{ id: 'go', label: 'Go', action: 'url', url: 'https://example.com/sale' }] },
    audience: { attribute: 'tier', eq: 'gold' }, priority: 70, labels: ['sale'],
  });
  const got = await h.call('GET', `/v1/in-app-messages/${id}`);
  assert.equal(got.json().priority, 70);
  assert.equal(got.json().recheck, true);

  const synced = (await sync(dev)).find((m) => m.id === id)!;
  assert.ok(synced, 'the running message is synced');
  assert.equal(synced.content.title, 'Hi Alice');
  assert.equal(synced.priority, 70);
  assert.deepEqual(await check(dev, id), { show: true });

  const impression = event(id, 'impression');
  assert.deepEqual(await report(dev, [impression, event(id, 'click', { button_id: 'go' })]), { stored: 2, duplicates: 0, ignored: 0 });
  const s = await stats(id);
  assert.equal(s.impressions, 1);
  assert.equal(s.unique_impressions, 1);
  assert.equal(s.clicks, 1);
  assert.equal(s.click_rate, 1);

  const stop = await h.call('POST', `/v1/in-app-messages/${id}/stop`);
  assert.equal(stop.statusCode, 200, stop.body);
  assert.ok(!ids(await sync(dev)).includes(id), 'a stopped message is absent from the next sync');
  assert.deepEqual(await check(dev, id), { show: false, reason: 'stopped' });
  const again = await h.call('POST', `/v1/in-app-messages/${id}/stop`);
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error.code, 'in_app_message_state_conflict');
});

test('a bad definition is refused with the path of the field, and nothing is stored', async () => {
  const before = (await h.call('GET', '/v1/in-app-messages?limit=1000')).json().messages.length;
  const cases: [Record<string, unknown>, string, string][] = [
    [{ content: { title: 'x', html: '<p>' } }, 'invalid_in_app_message', 'body.content.html'],
    [{ content: { title: 'x', buttons: [{ id: 'a', label: 'A', action: 'url', url: 'javascript:alert(1)' }] } }, 'invalid_in_app_message', 'body.content.buttons[0].url'],
    [{ format: 'image', content: { image_url: 'http://example.com/a.png' } }, 'invalid_in_app_message', 'body.content.image_url'],
    [{ audience: { attribute: 'tier', zz: 1 } }, 'invalid_query', 'body.audience'],
    [{ content: { title: '{{ name | nosuchfilter }}' } }, 'invalid_template', 'body.content.title'],
    [{ priority: 101 }, 'invalid_in_app_message', 'body.priority'],
    [{ starts_at: '2026-12-10T00:00:00Z', ends_at: '2026-12-09T00:00:00Z' }, 'invalid_in_app_message', 'body.ends_at'],
  ];
  for (const [patch, code, path] of cases) {
    const r = await h.call('POST', '/v1/in-app-messages', { name: 'Bad', format: 'modal', content: { title: 'x' }, trigger: { type: 'asap' }, ...patch });
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().error.code, code, r.body);
    assert.ok(r.json().error.message.includes(path), `${r.json().error.message} names ${path}`);
  }
  assert.equal((await h.call('GET', '/v1/in-app-messages?limit=1000')).json().messages.length, before);
});

test('an attribute changed after the sync makes the check refuse (not_targeted); an event the audience names counts at once', async () => {
  const bob = uid('bob');
  await setAttributes(bob, { tier: 'gold' });
  const dev = await device(bob);
  const id = await running({ audience: { attribute: 'tier', eq: 'gold' } });
  assert.ok(ids(await sync(dev)).includes(id));
  await setAttributes(bob, { tier: 'silver' });
  assert.deepEqual(await check(dev, id), { show: false, reason: 'not_targeted' });
  assert.ok(!ids(await sync(dev)).includes(id), 'and the next sync leaves it out');

  // An audience over events: the purchase stored a moment ago is in the check's snapshot.
  const buyers = await running({ audience: { event: 'purchase', within_days: 7 } });
  assert.deepEqual(await check(dev, buyers), { show: false, reason: 'not_targeted' });
  const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: bob }, events: [{ id: uid('ev'), name: 'purchase', time: new Date(clock.now()).toISOString() }] }]);
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(await check(dev, buyers), { show: true });
});

test('recheck false: the check leaves the audience to the sync but still refuses a stopped message', async () => {
  const carol = uid('carol');
  await setAttributes(carol, { tier: 'gold' });
  const dev = await device(carol);
  const id = await running({ audience: { attribute: 'tier', eq: 'gold' }, recheck: false });
  const synced = (await sync(dev)).find((m) => m.id === id) as Synced & { recheck: boolean };
  assert.equal(synced.recheck, false);
  await setAttributes(carol, { tier: 'silver' });
  assert.deepEqual(await check(dev, id), { show: true });
  await h.call('POST', `/v1/in-app-messages/${id}/stop`);
  assert.deepEqual(await check(dev, id), { show: false, reason: 'stopped' });
});

test('a change is a new version: the next sync has it, and a check of the old version is decided by the new one', async () => {
  const dev = await device(null);
  const id = await running({ content: { title: 'One' } });
  const p = await h.call('PATCH', `/v1/in-app-messages/${id}`, { content: { title: 'Two' }, audience: { attribute: 'tier', eq: 'platinum' } });
  assert.equal(p.statusCode, 200, p.body);
  assert.equal(p.json().version, 2);
  assert.equal(p.json().name, 'Hello', 'fields not given are kept');
  assert.ok(!ids(await sync(dev)).includes(id), 'an anonymous device has no tier');
  assert.deepEqual(await check(dev, id, 1), { show: false, reason: 'not_targeted' });
  const cleared = await h.call('PATCH', `/v1/in-app-messages/${id}`, { audience: null });
  assert.equal(cleared.json().version, 3);
  const m = (await sync(dev)).find((x) => x.id === id)!;
  assert.equal(m.version, 3);
  assert.equal(m.content.title, 'Two');
  assert.deepEqual(await check(dev, id, 99), { show: true }, 'a version the device cannot hold is read as the current one');
  assert.deepEqual(await check(dev, randomUUID()), { show: false, reason: 'unknown_message' });
});

test('dates in UTC: not started before starts_at, shown between, ended from ends_at; sync_after_seconds comes before the start', async () => {
  const dev = await device(null);
  const start = clock.now() + 3_600_000;
  const id = await running({ starts_at: new Date(start).toISOString(), ends_at: new Date(start + 3_600_000).toISOString() });
  const r = await sdk('/v1/sdk/in-app/sync', { install_id: dev });
  assert.ok(!ids(r.json().messages).includes(id));
  assert.ok(r.json().sync_after_seconds <= 300);
  assert.deepEqual(await check(dev, id), { show: false, reason: 'not_started' });
  clock.advance(3_600_000 + 1_000);
  const m = (await sync(dev)).find((x) => x.id === id)!;
  assert.equal(m.ends_at, new Date(start + 3_600_000).toISOString());
  assert.deepEqual(await check(dev, id), { show: true });
  clock.advance(3_600_000);
  assert.deepEqual(await check(dev, id), { show: false, reason: 'ended' });
  assert.ok(!ids(await sync(dev)).includes(id));
});

test('local dates: the same wall time starts the message in each recipient\'s zone (profile\'s, else installation\'s)', async () => {
  // Fixed-offset zones, so the test means the same whatever the date: Etc/GMT-9 is UTC+9, Etc/GMT+5 is UTC-5.
  const tokyo = uid('tokyo');
  await setAttributes(tokyo, { $timezone: 'Etc/GMT-9' });
  const east = await device(tokyo);
  const west = await device(null, { timezone: 'Etc/GMT+5' });
  const day = new Date(clock.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  const id = await running({ starts_at: `${day}T09:00:00Z`, ends_at: `${day}T18:00:00Z`, local_dates: true });
  const at = (iso: string) => clock.advance(Date.parse(iso) - clock.now());
  at(`${day}T00:01:00Z`); // 09:01 at UTC+9, 19:01 the day before at UTC-5
  assert.deepEqual(await check(east, id), { show: true });
  assert.deepEqual(await check(west, id), { show: false, reason: 'not_started' });
  assert.equal((await sync(east)).find((m) => m.id === id)!.ends_at, `${day}T09:00:00.000Z`, 'ends_at is 18:00 at UTC+9');
  at(`${day}T14:01:00Z`); // 23:01 at UTC+9, 09:01 at UTC-5
  assert.deepEqual(await check(east, id), { show: false, reason: 'ended' });
  assert.deepEqual(await check(west, id), { show: true });
});

test('display capping: max_displays and min_interval_seconds per message, counted per profile over its devices', async () => {
  const dan = uid('dan');
  const phone = await device(dan);
  const laptop = await device(dan);
  const id = await running({ capping: { max_displays: 2, min_interval_seconds: 600 } });
  assert.deepEqual(await check(phone, id), { show: true });
  await report(phone, [event(id, 'impression')]);
  assert.deepEqual(await check(laptop, id), { show: false, reason: 'capped' }, 'the profile saw it on another device 0 s ago');
  clock.advance(601_000);
  assert.deepEqual(await check(laptop, id), { show: true });
  await report(laptop, [event(id, 'impression')]);
  clock.advance(601_000);
  assert.deepEqual(await check(phone, id), { show: false, reason: 'capped' }, 'two displays: the lifetime cap');
  assert.ok(!ids(await sync(phone)).includes(id));
});

test('an in_app capping rule spaces displays of different messages to one device; rules of other scopes do not', async () => {
  const rules: string[] = [];
  const rule = async (body: Record<string, unknown>) => {
    const r = await h.call('POST', '/v1/cappings', { max_sends: 1, window_amount: 1, window_unit: 'hours', action: 'skip', ...body });
    assert.equal(r.statusCode, 201, r.body);
    rules.push(r.json().id);
  };
  try {
    await rule({ name: 'marketing', scope: 'marketing' });
    const dev = await device(null);
    const a = await running();
    const b = await running();
    await report(dev, [event(a, 'impression')]);
    assert.deepEqual(await check(dev, b), { show: true }, 'a marketing rule does not count in-app displays');
    await rule({ name: 'one in-app an hour', scope: 'in_app' });
    assert.deepEqual(await check(dev, b), { show: false, reason: 'capped' });
    assert.ok(!ids(await sync(dev)).some((x) => x === a || x === b));
    assert.deepEqual(await check(await device(null), b), { show: true }, 'another device is not capped');
    clock.advance(3_600_000 + 1_000);
    assert.deepEqual(await check(dev, b), { show: true }, 'the window has passed');
  } finally {
    for (const id of rules) await h.call('DELETE', `/v1/cappings/${id}`);
  }
});

test('events sent twice count once; within one batch too', async () => {
  const dev = await device(uid('erin'));
  const id = await running();
  const batch = [event(id, 'impression'), event(id, 'click'), event(id, 'dismiss')];
  assert.deepEqual(await report(dev, batch), { stored: 3, duplicates: 0, ignored: 0 });
  assert.deepEqual(await report(dev, batch), { stored: 0, duplicates: 3, ignored: 0 });
  const second = event(id, 'impression');
  assert.deepEqual(await report(dev, [second, second]), { stored: 1, duplicates: 1, ignored: 0 });
  const s = await stats(id);
  assert.deepEqual({ ...s, days: s.days.length }, { impressions: 2, unique_impressions: 1, clicks: 1, unique_clicks: 1, dismissals: 1, click_rate: 1, days: 1 });
  const bad = await sdk('/v1/sdk/in-app/events', { install_id: dev, events: [{ ...event(id, 'dismiss'), button_id: 'x' }] });
  assert.equal(bad.statusCode, 400);
  assert.ok(bad.json().error.message.includes('events[0].button_id'));
});

test('one project\'s key never reads, checks or counts another project\'s message', async () => {
  const id = await running({}, h.other);
  const mine = await device(null);
  assert.ok(!ids(await sync(mine)).includes(id));
  assert.deepEqual(await check(mine, id), { show: false, reason: 'unknown_message' });
  assert.deepEqual(await report(mine, [event(id, 'impression')]), { stored: 0, duplicates: 0, ignored: 1 });
  for (const [method, url] of [['GET', `/v1/in-app-messages/${id}`], ['GET', `/v1/stats/in-app/${id}`], ['POST', `/v1/in-app-messages/${id}/stop`], ['DELETE', `/v1/in-app-messages/${id}`]] as const) {
    const r = await h.call(method, url);
    assert.equal(r.statusCode, 404, `${method} ${url}`);
    assert.equal(r.json().error.code, 'in_app_message_not_found');
  }
  const theirs = await device(null, { p: h.other });
  assert.ok(ids(await sync(theirs, h.other)).includes(id));
  const s = await h.call('GET', `/v1/stats/in-app/${id}`, undefined, { p: h.other });
  assert.equal(s.json().impressions, 0, 'the other project\'s report counted nothing');
  const sdkOnRest = await h.app.inject({ method: 'GET', url: '/v1/in-app-messages', headers: { authorization: `Bearer ${h.project.sdk_key}` } });
  assert.equal(sdkOnRest.statusCode, 403);
});

test('inbox: true keeps the message in the profile\'s inbox on its first impression, once', async () => {
  const fay = uid('fay');
  await setAttributes(fay, { first_name: 'Fay' });
  const dev = await device(fay);
  const id = await running({ inbox: true, content: { title: 'For {{ first_name }}', body: 'B', buttons: [{ id: 'go', label: 'Go', action: 'url', url: 'https://example.com/x' }] } });
  const plain = await running();
  const inbox = async () => (await h.call('GET', `/v1/inbox?custom_id=${encodeURIComponent(fay)}`)).json() as { items: { id: string; title: string; deeplink: string | null }[]; unread: number };
  assert.equal((await inbox()).items.length, 0);
  await report(dev, [event(id, 'impression'), event(plain, 'impression')]);
  await report(dev, [event(id, 'impression')]);
  const items = (await inbox()).items;
  assert.deepEqual(items.map((i) => [i.id, i.title, i.deeplink]), [[id, 'For Fay', 'https://example.com/x']]);
});

test('erasing a person removes what their devices reported and the displays capping kept; the day counters stay', async () => {
  const gil = uid('gil');
  const dev = await device(gil);
  const id = await running({ capping: { max_displays: 1 } });
  await report(dev, [event(id, 'impression'), event(id, 'click')]);
  assert.deepEqual(await check(dev, id), { show: false, reason: 'capped' });
  const e = await h.call('DELETE', `/v1/profiles/${encodeURIComponent(gil)}`);
  assert.equal(e.statusCode, 200, e.body);
  const [left] = await h.db.sql<{ events: number; displays: number }[]>`
    select (select count(*)::int from in_app_events where message_id = ${id}) as events,
           (select count(*)::int from in_app_displays where message_id = ${id}) as displays`;
  assert.deepEqual(left, { events: 0, displays: 0 });
  assert.equal((await stats(id)).impressions, 1);
});

test('the sync orders by priority and renders each format\'s content; an html document\'s outputs are escaped', async () => {
  const hal = uid('hal');
  await setAttributes(hal, { first_name: '<b>Hal</b>' });
  const dev = await device(hal);
  const low = await running({ priority: 10, format: 'banner', content: { body: 'Low {{ first_name }}', position: 'bottom' } });
  const high = await running({ priority: 90, format: 'html', content: { html: '<p>Hi {{ first_name }}</p>' }, trigger: { type: 'event', event: 'cart_viewed', where: [{ attribute: 'total', gte: 20 }] } });
  const synced = await sync(dev);
  const order = ids(synced);
  assert.ok(order.indexOf(high) < order.indexOf(low), 'higher priority first');
  const h1 = synced.find((m) => m.id === high)! as Synced & { format: string; trigger: unknown };
  assert.equal(h1.content.html, '<p>Hi &lt;b&gt;Hal&lt;/b&gt;</p>');
  assert.deepEqual(h1.trigger, { type: 'event', event: 'cart_viewed', where: [{ attribute: 'total', gte: 20 }] });
  const l = synced.find((m) => m.id === low)!;
  assert.deepEqual(l.content, { body: 'Low <b>Hal</b>', position: 'bottom' }, 'plain text is the SDK\'s to show as text');
  for (let i = 1; i < synced.length; i++) assert.ok(synced[i - 1]!.priority >= synced[i]!.priority);
});

test('upkeep forgets events past every capping window; the counters keep what they counted', async () => {
  const dev = await device(null);
  const id = await running({ capping: { max_displays: 1 } });
  await report(dev, [event(id, 'impression')]);
  const left = async () => (await h.db.sql<{ n: number }[]>`select count(*)::int as n from in_app_events where message_id = ${id}`)[0]!.n;
  await deleteOldInAppEvents(h.db.sql, new Date(clock.now() + 89 * 86_400_000));
  assert.equal(await left(), 1, 'within 90 days: kept');
  assert.ok(await deleteOldInAppEvents(h.db.sql, new Date(clock.now() + 91 * 86_400_000)) >= 1);
  assert.equal(await left(), 0);
  assert.deepEqual(await check(dev, id), { show: false, reason: 'capped' }, 'max_displays reads the counter, not the events');
  assert.equal((await stats(id)).impressions, 1);
});

test('audiences over the profile\'s devices and custom audiences are decided at the check too', async () => {
  const ivy = uid('ivy');
  const dev = await device(ivy);
  const audience = `vip-${randomBytes(4).toString('hex')}`;
  const p = h.project.project_id;
  await h.db.sql`insert into audiences (project_id, id, name) values (${p}, ${audience}, ${audience})`;
  const onWeb = await running({ audience: { installation: { platform: { eq: 'web' } } } });
  const onIos = await running({ audience: { installation: { platform: { eq: 'ios' } } } });
  const vip = await running({ audience: { audience } });
  assert.deepEqual(await check(dev, onWeb), { show: true });
  assert.deepEqual(await check(dev, onIos), { show: false, reason: 'not_targeted' });
  assert.deepEqual(await check(dev, vip), { show: false, reason: 'not_targeted' });
  await h.db.sql`insert into audience_members (project_id, audience_id, custom_id) values (${p}, ${audience}, ${ivy})`;
  assert.deepEqual(await check(dev, vip), { show: true });
  const synced = ids(await sync(dev));
  assert.ok(synced.includes(onWeb) && synced.includes(vip) && !synced.includes(onIos));
});
