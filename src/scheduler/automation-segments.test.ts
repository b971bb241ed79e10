/**
 * Segment triggers and an automation's lifetime, on a real database with the test clock: a profile
 * whose attribute change puts it in a saved segment enters once (the change kept by the statement
 * that wrote it), a change that keeps it inside enters nobody, leaving and coming back follows the
 * re-entry rule; a condition that becomes true with time alone enters through the sweep, once,
 * even with two sweeps and the loop at the same time; entries outside the active period are
 * refused, and a journey past its max_duration exits at that instant.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testClock, type TestClock } from '../../test/support/clock.js';
import { routeTestApp } from '../../test/support/app.js';
import { silentLogger } from '../observability/logger.js';
import { automationPass, type AutomationDeps } from './automations.js';
import { sweepSegments } from './automation-segments.js';

const dayMs = 86_400_000;

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const clock: TestClock = testClock();
  const h = await routeTestApp('automation-segments', { clock });
  t.after(() => h.close());
  const deps: AutomationDeps = { sql: h.db.sql, queue: h.queue, clock, log: silentLogger() };
  return {
    clock, h, deps,
    pass: () => automationPass(deps),
    sweep: () => sweepSegments(deps),
    async profile(customId: string, attributes: Record<string, unknown> = {}) {
      const r = await h.call('POST', '/v1/profiles/update', [{ identifiers: { custom_id: customId }, attributes: { $email: `${customId}@example.com`, ...attributes } }]);
      assert.equal(r.statusCode, 200, r.body);
    },
    async create(definition: unknown) {
      const r = await h.call('POST', '/v1/automations', { name: 'a', definition, start: true });
      assert.equal(r.statusCode, 201, r.body);
      return r.json().id as string;
    },
    async counts(id: string) {
      const r = await h.call('GET', `/v1/automations/${id}`);
      assert.equal(r.statusCode, 200, r.body);
      return r.json().counts as { entered: number; completed: number; exited: Record<string, number>; not_entered: Record<string, number> };
    },
    async messages(id: string) {
      return h.db.sql<{ custom_id: string }[]>`
        select recipients -> 'custom_ids' ->> 0 as custom_id from messages where group_id = ${`automation:${id}`} order by created_at, id`;
    },
  };
}

const hello = [{ id: 'hi', type: 'send', channels: ['email'], content: { email: { subject: 'Welcome to gold', text: 'Hi' } } }];

test('a profile change that puts a profile in a saved segment enters it once; leaving and coming back follows the re-entry rule', async (t) => {
  const a = await setup(t);
  const seg = await a.h.call('POST', '/v1/segments', { name: 'gold', query: { attribute: 'tier', eq: 'gold' } });
  assert.equal(seg.statusCode, 201, seg.body);
  const again = await a.create({ trigger: { type: 'segment', segment: seg.json().id }, entry: { reentry: true }, steps: hello });
  const once = await a.create({ trigger: { type: 'segment', segment: seg.json().id }, steps: hello });
  await a.profile('ann', { tier: 'silver' });
  await a.profile('bob', { tier: 'silver' });
  await a.pass();
  assert.equal((await a.counts(again)).entered, 0);

  await a.profile('ann', { tier: 'gold' });
  // Read-your-writes: once the API answered, the change is kept for the segment automations.
  const [kept] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from automation_inbox where name = '$profile' and custom_id = 'ann'`;
  assert.equal(kept!.n, 1);
  await a.pass();
  assert.deepEqual((await a.messages(again)).map((m) => m.custom_id), ['ann']);
  assert.deepEqual((await a.messages(once)).map((m) => m.custom_id), ['ann']);

  // Still inside: another change enters nobody, and neither does a sweep.
  await a.profile('ann', { tier: 'gold', visits: 3 });
  await a.pass();
  assert.equal(await a.sweep(), 0);
  assert.equal((await a.counts(again)).entered, 1);
  assert.deepEqual((await a.counts(again)).not_entered, {});

  // Out, and in again: a new entry where re-entry is allowed, refused where it is not.
  await a.profile('ann', { tier: 'silver' });
  await a.pass();
  await a.profile('ann', { tier: 'gold' });
  await a.pass();
  assert.deepEqual((await a.messages(again)).map((m) => m.custom_id), ['ann', 'ann']);
  assert.deepEqual((await a.messages(once)).map((m) => m.custom_id), ['ann']);
  assert.equal((await a.counts(again)).entered, 2);
  assert.deepEqual((await a.counts(once)).not_entered, { reentry_not_allowed: 1 });
  assert.equal((await a.counts(again)).completed, 2);
  // bob never matched; nothing was kept once the loop acted.
  const [left] = await a.h.db.sql<{ n: number }[]>`select count(*)::int as n from automation_inbox`;
  assert.equal(left!.n, 0);
});

test('a condition that becomes true with time alone enters through the sweep, once, with sweeps and the loop at the same time', async (t) => {
  const a = await setup(t);
  const renewal = new Date(a.clock.now() + 10 * dayMs).toISOString();
  const id = await a.create({
    trigger: { type: 'segment', query: { attribute: 'renewal', within_next_days: 7 } }, entry: { reentry: true },
    steps: [{ id: 'remind', type: 'send', channels: ['email'], content: { email: { subject: 'Renewal soon', text: 'Hi' } } }],
  });
  await a.profile('ann', { 'date(renewal)': renewal });
  await a.profile('bob', { 'date(renewal)': new Date(a.clock.now() + 40 * dayMs).toISOString() });
  await a.pass();
  assert.equal(await a.sweep(), 0);
  assert.equal((await a.counts(id)).entered, 0);

  a.clock.advance(3 * dayMs + 3_600_000);
  // Nothing was written: the loop alone sees no change.
  await a.pass();
  assert.equal((await a.counts(id)).entered, 0);
  await Promise.all([a.sweep(), a.sweep(), a.pass()]);
  await a.pass();
  assert.equal((await a.counts(id)).entered, 1);
  assert.deepEqual((await a.messages(id)).map((m) => m.custom_id), ['ann']);
  assert.equal(await a.sweep(), 0, 'a second sweep finds no change');

  // Past the renewal the profile leaves the segment, seen by the sweep: no entry.
  a.clock.advance(8 * dayMs);
  assert.equal(await a.sweep(), 1);
  const [m] = await a.h.db.sql<{ in_segment: boolean }[]>`select in_segment from automation_profiles where automation_id = ${id} and custom_id = 'ann'`;
  assert.equal(m!.in_segment, false);
  assert.equal((await a.counts(id)).entered, 1);
});

test('lifetime: no entries outside the active period; a journey past its max_duration exits then, its wait cut short', async (t) => {
  const a = await setup(t);
  await a.profile('ann');
  await a.profile('bob');
  const now = a.clock.now();
  const id = await a.create({
    trigger: { type: 'api' },
    active: { from: new Date(now + dayMs).toISOString(), until: new Date(now + 3 * dayMs).toISOString() },
    max_duration: { days: 2 },
    steps: [
      { id: 'wait', type: 'wait', duration: { days: 30 } },
      { id: 'late', type: 'send', channels: ['email'], content: { email: { subject: 'late', text: 'Hi' } } },
    ],
  });
  const enter = async (customId: string) => (await a.h.call('POST', `/v1/automations/${id}/entries`, { custom_id: customId })).json();
  assert.deepEqual((await enter('ann')).reason, 'not_started');
  a.clock.advance(dayMs);
  assert.equal((await enter('ann')).entered, true);
  await a.pass();
  a.clock.advance(2 * dayMs - 60_000);
  await a.pass();
  assert.equal((await a.counts(id)).exited.max_duration, undefined);
  a.clock.advance(60_000);
  await a.pass();
  assert.deepEqual((await a.counts(id)).exited, { max_duration: 1 });
  assert.equal((await a.messages(id)).length, 0);
  assert.equal((await enter('bob')).reason, 'ended');
  assert.deepEqual((await a.counts(id)).not_entered, { not_started: 1, ended: 1 });

  const bad = await a.h.call('POST', '/v1/automations', { name: 'b', definition: { trigger: { type: 'api' }, active: { from: '2027-02-01T00:00:00Z', until: '2027-01-01T00:00:00Z' }, steps: hello } });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'invalid_automation');
  assert.match(bad.json().error.message, /body\.definition\.active\.until/);
});
