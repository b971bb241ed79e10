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
