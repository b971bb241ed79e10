/**
 * Trigger automations on a real database, time driven by the test clock: events ingested by the
 * API enter journeys (kept by the statement that stores them), a 30-day wait with an exit event in
 * the middle, branch and split counts, re-entry, grace period and the entry cap, a repeated trigger
 * before and after the first send, versions, a step run twice and a step rolled back, and a stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClock, type TestClock } from '../../test/support/clock.js';
import { routeTestApp, type RouteTestApp } from '../../test/support/app.js';
import { silentLogger } from '../observability/logger.js';
import { automationPass, type AutomationDeps } from './automations.js';
import { runJourneyStep } from './automation-steps.js';
import { loadAutomationModel } from './automation-model.js';
import { claimStepEffect, type Journey } from '../store/automation-journeys.js';

const dayMs = 86_400_000;
const hourMs = 3_600_000;

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const clock: TestClock = testClock();
  const h: RouteTestApp = await routeTestApp('automations', { clock });
  t.after(() => h.close());
  const deps: AutomationDeps = { sql: h.db.sql, queue: h.queue, clock, log: silentLogger() };
  let n = 0;
  const api = {
    clock, h, deps,
    pass: () => automationPass(deps),
    async profile(customId: string, attributes: Record<string, unknown> = {}) {
      const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: customId }, attributes: { $email: `${customId}@example.com`, ...attributes } }]);
      assert.equal(r.statusCode, 200, r.body);
    },
    async track(customId: string, name: string, attributes: Record<string, unknown> = {}, id = `ev-${++n}`) {
      const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: customId }, events: [{ id, name, attributes }] }]);
      assert.equal(r.statusCode, 200, r.body);
      return r.json().events as { accepted: number; duplicates: number };
    },
    async create(definition: unknown) {
      const r = await h.call('POST', '/v1/automations', { name: 'a', definition, start: true });
      assert.equal(r.statusCode, 201, r.body);
      return r.json().id as string;
    },
    async counts(id: string) {
      const r = await h.call('GET', `/v1/automations/${id}`);
      assert.equal(r.statusCode, 200, r.body);
      return r.json().counts;
    },
    async enter(id: string, customId: string, body: Record<string, unknown> = {}) {
      const r = await h.call('POST', `/v1/automations/${id}/entries`, { custom_id: customId, ...body });
      assert.equal(r.statusCode, 200, r.body);
      return r.json();
    },
    async messages(id: string) {
      return h.db.sql<{ custom_id: string; subject: string }[]>`
        select recipients -> 'custom_ids' ->> 0 as custom_id, content -> 'email' ->> 'subject' as subject
          from messages where group_id = ${`automation:${id}`} order by created_at, id`;
    },
  };
  return api;
}

const email = (subject: string) => ({ email: { subject, text: 'Hello {{ profile.custom_id }}' } });
const step = (counts: { steps: { step: string; version: number }[] }, id: string, version = 1) =>
  counts.steps.find((s) => s.step === id && s.version === version) as unknown as { entered: number; waiting: number; sent: number; paths: Record<string, number> } | undefined;

test('an event enters a journey from the statement that stores it; a 30-day wait is ended by an exit event in the middle', async (t) => {
  const a = await setup(t);
  const id = await a.create({
    trigger: { type: 'event', event: 'signup', where: [{ attribute: 'plan', eq: 'pro' }] },
    exit_on: [{ event: 'purchase' }],
    steps: [
      { id: 'welcome', type: 'send', channels: ['email'], content: email('Welcome, {{ event.attributes.plan }} user') },
      { id: 'wait', type: 'wait', duration: { days: 30 } },
      { id: 'reminder', type: 'send', channels: ['email'], content: email('Still there?') },
    ],
  });
  await a.profile('ann');
  await a.profile('bob');
  await a.profile('cat');
  assert.deepEqual(await a.track('ann', 'signup', { plan: 'pro' }, 'ann-signup'), { accepted: 1, duplicates: 0 });
  await a.track('bob', 'signup', { plan: 'pro' });
  await a.track('cat', 'signup', { plan: 'free' });
  // Read-your-writes: once the API has answered, the events are kept for the automation.
  const [kept] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from automation_inbox`;
  assert.equal(kept!.n, 3);
  // The same event sent again is a duplicate: kept once, entered once.
  assert.deepEqual(await a.track('ann', 'signup', { plan: 'pro' }, 'ann-signup'), { accepted: 0, duplicates: 1 });
  await a.pass();
  assert.deepEqual((await a.messages(id)).map((m) => [m.custom_id, m.subject]).sort(), [['ann', 'Welcome, pro user'], ['bob', 'Welcome, pro user']]);
  let c = await a.counts(id);
  assert.equal(c.entered, 2);
  assert.equal(step(c, 'wait')!.waiting, 2);

  a.clock.advance(10 * dayMs);
  await a.pass();
  await a.track('ann', 'purchase');
  await a.pass();
  c = await a.counts(id);
  assert.deepEqual(c.exited, { exit_event: 1 });
  assert.equal(step(c, 'wait')!.waiting, 1, 'ann left the wait at once');

  a.clock.advance(20 * dayMs - 60_000);
  await a.pass();
  assert.equal((await a.messages(id)).length, 2, 'nothing before the 30 days are up');
  a.clock.advance(60_000);
  await a.pass();
  assert.deepEqual((await a.messages(id)).map((m) => [m.custom_id, m.subject]).slice(2), [['bob', 'Still there?']]);
  c = await a.counts(id);
  assert.equal(c.completed, 1);
  assert.equal(c.active, 0);
  assert.equal(step(c, 'reminder')!.sent, 1);
  assert.equal(step(c, 'welcome')!.sent, 2);
  assert.equal(step(c, 'wait')!.waiting, 0);
  // The messages went through the normal pipeline: a fan-out job each.
  const [jobs] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from jobs where topic = 'message.fanout'`;
  assert.equal(jobs!.n, 3);
});

test('a branch and a split count the way each journey took; a profile update step changes the profile', async (t) => {
  const a = await setup(t);
  const id = await a.create({
    trigger: { type: 'api' },
    steps: [
      { id: 'tier', type: 'branch', condition: { attribute: 'tier', eq: 'gold' }, then: 'vip', else: 'ab' },
      { id: 'vip', type: 'update_profile', set: { vip: true }, next: null },
      { id: 'ab', type: 'split', paths: [{ percent: 50, next: 'out' }, { percent: 50, next: null }] },
      { id: 'out', type: 'exit' },
    ],
  });
  for (let i = 0; i < 40; i++) {
    await a.profile(`p${i}`, { tier: i < 12 ? 'gold' : 'silver' });
    assert.equal((await a.enter(id, `p${i}`)).entered, true);
  }
  await a.pass();
  const c = await a.counts(id);
  assert.deepEqual(step(c, 'tier')!.paths, { then: 12, else: 28 });
  const split = step(c, 'ab')!.paths;
  assert.equal((split['0'] ?? 0) + (split['1'] ?? 0), 28);
  assert.ok((split['0'] ?? 0) > 0 && (split['1'] ?? 0) > 0, JSON.stringify(split));
  assert.deepEqual(c.exited, { exit_step: split['0'] });
  assert.equal(c.completed, 12 + split['1']!);
  const vip = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from profiles where (attributes ->> 'vip')::boolean`;
  assert.equal(vip[0]!.n, 12);
});

test('entry rules: re-entry after a grace period up to the cap; a repeated trigger restarts before the first send and is refused after it', async (t) => {
  const a = await setup(t);
  await a.profile('ann');
  const again = await a.create({
    trigger: { type: 'event', event: 'visit' }, entry: { reentry: true, grace_period_seconds: 3600, max_entries: 2 },
    steps: [{ id: 'hi', type: 'send', channels: ['email'], content: email('hi') }],
  });
  await a.track('ann', 'visit');
  await a.pass();
  await a.track('ann', 'visit');
  await a.pass();
  assert.deepEqual((await a.counts(again)).not_entered, { grace_period: 1 });
  a.clock.advance(hourMs + 1_000);
  await a.track('ann', 'visit');
  await a.pass();
  a.clock.advance(2 * hourMs);
  await a.track('ann', 'visit');
  await a.pass();
  let c = await a.counts(again);
  assert.equal(c.entered, 2);
  assert.deepEqual(c.not_entered, { grace_period: 1, max_entries: 1 });
  assert.equal((await a.messages(again)).length, 2);

  // Before the first send, a repeated trigger restarts the journey with its own attributes.
  const restart = await a.create({
    trigger: { type: 'event', event: 'cart' },
    steps: [{ id: 'w', type: 'wait', duration: { hours: 1 } }, { id: 'nudge', type: 'send', channels: ['email'], content: email('cart {{ event.attributes.n }}') }],
  });
  await a.track('ann', 'cart', { n: 1 });
  await a.pass();
  await a.track('ann', 'cart', { n: 2 });
  await a.pass();
  a.clock.advance(hourMs);
  await a.pass();
  assert.deepEqual((await a.messages(restart)).map((m) => m.subject), ['cart 2']);
  c = await a.counts(restart);
  assert.deepEqual(c.exited, { restarted: 1 });
  assert.equal(step(c, 'w')!.waiting, 0);
  // Re-entry is off by default: once the journey ended, the trigger enters nobody.
  await a.track('ann', 'cart', { n: 3 });
  await a.pass();
  assert.deepEqual((await a.counts(restart)).not_entered, { reentry_not_allowed: 1 });

  // After the first send, a repeated trigger is refused while the journey runs.
  const after = await a.create({
    trigger: { type: 'event', event: 'browse' },
    steps: [
      { id: 'first', type: 'send', channels: ['email'], content: email('one') },
      { id: 'w', type: 'wait', duration: { hours: 1 } },
      { id: 'second', type: 'send', channels: ['email'], content: email('two') },
    ],
  });
  await a.track('ann', 'browse');
  await a.pass();
  await a.track('ann', 'browse');
  await a.pass();
  a.clock.advance(hourMs);
  await a.pass();
  assert.deepEqual((await a.messages(after)).map((m) => m.subject), ['one', 'two']);
  assert.deepEqual((await a.counts(after)).not_entered, { already_in_journey: 1 });
  // An API entry with an id seen before enters nobody again.
  await a.profile('bob');
  const first = await a.enter(after, 'bob', { id: 'order-1' });
  assert.equal(first.entered, true);
  const retried = await a.enter(after, 'bob', { id: 'order-1' });
  assert.deepEqual(retried, { entered: false, journey_id: first.journey_id, restarted: false, reason: 'duplicate' });
});

test('a changed definition is a new version: new entries take it, a running journey finishes on its own', async (t) => {
  const a = await setup(t);
  const v1 = { trigger: { type: 'api' }, steps: [{ id: 'w', type: 'wait', duration: { days: 1 } }, { id: 's', type: 'send', channels: ['email'], content: email('version one') }] };
  const id = await a.create(v1);
  await a.profile('ann');
  await a.profile('bob');
  await a.enter(id, 'ann');
  await a.pass();
  const changed = await a.h.call('PATCH', `/v1/automations/${id}`, { definition: { ...v1, steps: [v1.steps[0], { ...v1.steps[1], content: email('version two') }] } });
  assert.equal(changed.statusCode, 200, changed.body);
  assert.equal(changed.json().version, 2);
  await a.enter(id, 'bob');
  await a.pass();
  a.clock.advance(dayMs);
  await a.pass();
  assert.deepEqual((await a.messages(id)).map((m) => [m.custom_id, m.subject]).sort(), [['ann', 'version one'], ['bob', 'version two']]);
  const c = await a.counts(id);
  assert.equal(step(c, 's', 1)!.sent, 1);
  assert.equal(step(c, 's', 2)!.sent, 1);
  // Both versions stay readable, newest first and paged; another project sees neither.
  const first = await a.h.call('GET', `/v1/automations/${id}/versions?limit=1`);
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json().versions.map((v: { version: number }) => v.version), [2]);
  assert.equal(first.json().versions[0].definition.steps[1].content.email.subject, 'version two');
  assert.equal(first.json().next_cursor, 2);
  const rest = (await a.h.call('GET', `/v1/automations/${id}/versions?limit=1&cursor=2`)).json();
  assert.deepEqual(rest.versions.map((v: { version: number; definition: typeof v1 }) => [v.version, v.definition.steps[1]!.content]), [[1, email('version one')]]);
  assert.equal(rest.next_cursor, null);
  assert.equal((await a.h.call('GET', `/v1/automations/${id}/versions`, undefined, { p: a.h.other })).statusCode, 404);
});

test('a step run twice sends once, and a step whose transaction died sends when it runs again', async (t) => {
  const a = await setup(t);
  const id = await a.create({ trigger: { type: 'api' }, steps: [{ id: 's', type: 'send', channels: ['email'], content: email('once') }] });
  await a.profile('ann');
  await a.profile('bob');
  await a.enter(id, 'ann');
  await a.enter(id, 'bob');
  const [ann] = await a.h.db.sql<Journey[]>`select * from automation_journeys where custom_id = 'ann'`;
  const model = await loadAutomationModel(a.h.db.sql, id, 1);
  // Two workers holding the same attempt of the same journey: the second finds the step done.
  const first = await a.h.db.sql.begin((tx) => runJourneyStep(tx, a.deps, ann!, model, 'live', a.clock.now()));
  const second = await a.h.db.sql.begin((tx) => runJourneyStep(tx, a.deps, ann!, model, 'live', a.clock.now()));
  assert.deepEqual(first, { kind: 'moved', to: null });
  assert.deepEqual(second, { kind: 'stale' });
  // Past the fence, the effect's own claim: (journey, step, attempt) is taken once.
  const claims = await a.h.db.sql.begin(async (tx) => [await claimStepEffect(tx, ann!.id, 's', 0), await claimStepEffect(tx, ann!.id, 's', 1), await claimStepEffect(tx, ann!.id, 's', 1)]);
  assert.deepEqual(claims, [false, true, false]);
  // A worker dies after the step's work, before its commit: nothing of it stays, and the next run sends.
  const [bob] = await a.h.db.sql<Journey[]>`select * from automation_journeys where custom_id = 'bob'`;
  await assert.rejects(a.h.db.sql.begin(async (tx) => {
    await runJourneyStep(tx, a.deps, bob!, model, 'live', a.clock.now());
    throw new Error('killed before commit');
  }), /killed before commit/);
  await a.pass();
  assert.deepEqual((await a.messages(id)).map((m) => m.custom_id).sort(), ['ann', 'bob']);
  const c = await a.counts(id);
  assert.equal(step(c, 's')!.sent, 2);
  assert.equal(c.completed, 2);
});

test('a stopped automation exits its waiting journeys and sends nothing more; the API refuses bad definitions by path', async (t) => {
  const a = await setup(t);
  const id = await a.create({ trigger: { type: 'api' }, steps: [{ id: 'w', type: 'wait', duration: { days: 365 } }, { id: 's', type: 'send', channels: ['email'], content: email('late') }] });
  await a.profile('ann');
  await a.enter(id, 'ann');
  await a.pass();
  const stopped = await a.h.call('POST', `/v1/automations/${id}/stop`);
  assert.equal(stopped.statusCode, 200, stopped.body);
  assert.deepEqual(stopped.json().counts.exited, { automation_stopped: 1 });
  assert.equal(step(stopped.json().counts, 'w')!.waiting, 0);
  a.clock.advance(366 * dayMs);
  await a.pass();
  assert.equal((await a.messages(id)).length, 0);
  assert.equal((await a.h.call('POST', `/v1/automations/${id}/entries`, { custom_id: 'ann' })).json().error.code, 'automation_state_conflict');
  assert.equal((await a.h.call('GET', `/v1/automations/${id}`, undefined, { p: a.h.other })).statusCode, 404);
  assert.equal((await a.h.call('DELETE', `/v1/automations/${id}`)).statusCode, 204);

  // Erasing a person takes them out of every journey, counted as exited.
  const kept = await a.create({ trigger: { type: 'api' }, steps: [{ id: 'w', type: 'wait', duration: { days: 365 } }] });
  await a.profile('bob');
  await a.enter(kept, 'bob');
  await a.pass();
  assert.equal((await a.h.call('DELETE', '/v1/profiles/bob')).statusCode, 200);
  const erased = await a.counts(kept);
  assert.deepEqual(erased.exited, { profile_erased: 1 });
  assert.equal(step(erased, 'w')!.waiting, 0);
  assert.equal((await a.h.db.sql`select 1 from automation_journeys where custom_id = 'bob'`).length, 0);
  assert.equal((await a.h.call('POST', `/v1/automations/${kept}/stop`)).statusCode, 200);
  assert.equal((await a.h.call('DELETE', `/v1/automations/${kept}`)).statusCode, 204);

  const bad = await a.h.call('POST', '/v1/automations', { name: 'x', definition: { trigger: { type: 'api' }, steps: [{ id: 'a', type: 'branch', condition: { attribute: 'x', eq: 1 }, then: 'b', else: null }] } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_automation');
  assert.match(bad.json().error.message, /^body\.definition\.steps\[0\]\.then /);
  const query = await a.h.call('POST', '/v1/automations', { name: 'x', definition: { trigger: { type: 'api' }, audience: { segment: 'missing' }, steps: [{ id: 'x', type: 'exit' }] } });
  assert.equal(query.json().error.code, 'invalid_query');
  const [n] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from automations`;
  assert.equal(n!.n, 0);
  const list = await a.h.call('GET', '/v1/automations');
  assert.deepEqual(list.json(), { automations: [], next_cursor: null });
});

test('a wait for an event ends when the event comes and times out otherwise; a local-time wait wakes at the profile\'s wall time', async (t) => {
  const a = await setup(t);
  const id = await a.create({
    trigger: { type: 'api' },
    steps: [
      { id: 'open', type: 'wait_for_event', event: 'opened', where: [{ attribute: 'screen', eq: 'offer' }], timeout: { days: 2 }, next: 'thanks', timeout_next: 'morning' },
      { id: 'thanks', type: 'send', channels: ['email'], content: email('thanks'), next: null },
      { id: 'morning', type: 'wait', until: { time: '09:00' } },
      { id: 'nudge', type: 'send', channels: ['email'], content: email('nudge') },
    ],
  });
  await a.profile('ann', { $timezone: 'Asia/Tokyo' });
  await a.profile('bob', { $timezone: 'America/New_York' });
  await a.enter(id, 'ann');
  await a.enter(id, 'bob');
  await a.pass();
  await a.track('ann', 'opened', { screen: 'home' });
  await a.pass();
  assert.equal(step(await a.counts(id), 'open')!.waiting, 2, 'an event the filter refuses ends no wait');
  await a.track('ann', 'opened', { screen: 'offer' });
  await a.pass();
  assert.deepEqual((await a.messages(id)).map((m) => [m.custom_id, m.subject]), [['ann', 'thanks']]);
  a.clock.advance(2 * dayMs);
  await a.pass();
  const [bob] = await a.h.db.sql<{ due_at: Date; step: string }[]>`select due_at, step from automation_journeys where custom_id = 'bob'`;
  assert.equal(bob!.step, 'morning');
  // 09:00 in New York, within the next day.
  const wall = new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', hour12: false }).format(bob!.due_at);
  assert.equal(wall, '09:00');
  assert.ok(bob!.due_at.getTime() > a.clock.now() && bob!.due_at.getTime() <= a.clock.now() + dayMs);
  a.clock.advance(bob!.due_at.getTime() - a.clock.now());
  await a.pass();
  assert.deepEqual((await a.messages(id)).map((m) => [m.custom_id, m.subject]), [['ann', 'thanks'], ['bob', 'nudge']]);
  const c = await a.counts(id);
  assert.deepEqual(step(c, 'open')!.paths, { event: 1, timeout: 1 });
  assert.equal(c.completed, 2);
});
