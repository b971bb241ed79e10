import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DefinitionError, eventNamesOf, parseDefinition } from './definition.js';
import { activeRefusal, decideEntry } from './entry.js';
import { decideTry } from './webhook-call.js';
import { decideStep, nextLocalTime, splitDraw, waitEnd } from './journey.js';

const email = { subject: 'Hi {{ event.attributes.sku }}', text: 't' };
const valid = {
  trigger: { type: 'event', event: 'cart_abandoned', where: [{ attribute: 'total', gte: 20 }] },
  entry: { reentry: true, grace_period_seconds: 3600, max_entries: 3 },
  exit_on: [{ event: 'purchase' }],
  steps: [
    { id: 'wait', type: 'wait', duration: { hours: 4 } },
    { id: 'nudge', type: 'send', channels: ['email'], content: { email } },
    { id: 'vip', type: 'branch', condition: { attribute: 'tier', eq: 'gold' }, then: 'coupon', else: null },
    { id: 'coupon', type: 'send', channels: ['email'], content: { email } },
  ],
};

const refusal = (def: unknown): DefinitionError => {
  try {
    parseDefinition(def);
  } catch (e) {
    if (e instanceof DefinitionError) return e;
    throw e;
  }
  assert.fail('the definition was accepted');
};

test('a definition parses into its model: steps linked to the next by default, conditions as targeting queries', () => {
  const m = parseDefinition(valid);
  assert.equal(m.first, 'wait');
  assert.deepEqual(m.trigger.type, 'event');
  const wait = m.steps.get('wait')!;
  assert.ok(wait.type === 'wait' && wait.next === 'nudge' && wait.wait.kind === 'duration' && wait.wait.ms === 4 * 3_600_000);
  const coupon = m.steps.get('coupon')!;
  assert.ok(coupon.type === 'send' && coupon.next === null);
  assert.deepEqual(m.entry, { reentry: true, gracePeriodSeconds: 3600, maxEntries: 3 });
  assert.equal(m.recheckAfterWait, true);
  assert.deepEqual(eventNamesOf(m).sort(), ['cart_abandoned', 'purchase']);
});

test('a bad definition is refused with the path of the bad node, and the kind of its fault', () => {
  const at = (def: unknown) => refusal(def).path;
  assert.equal(at({ ...valid, steps: [...valid.steps.slice(0, 2), { ...valid.steps[2], then: 'nowhere' }, valid.steps[3]] }), 'definition.steps[2].then');
  assert.equal(at({ ...valid, steps: [{ id: 'a', type: 'branch', condition: { attribute: 'x', eq: 1 }, then: 'a', else: null }] }), 'definition.steps[0].then');
  assert.equal(at({ ...valid, steps: [valid.steps[0], valid.steps[0]] }), 'definition.steps[1].id');
  assert.equal(at({ ...valid, steps: [{ id: 'w', type: 'wait', duration: { days: 0 } }] }), 'definition.steps[0].duration');
  assert.equal(at({ ...valid, steps: [{ id: 'w', type: 'wait', duration: { weeks: 1 } }] }), 'definition.steps[0].duration.weeks');
  assert.equal(at({ ...valid, steps: [{ id: 's', type: 'send', channels: ['push'], content: { email } }] }), 'definition.steps[0].content.push');
  assert.equal(at({ ...valid, steps: [{ id: 's', type: 'split', paths: [{ percent: 50, next: null }, { percent: 40, next: null }] }] }), 'definition.steps[0].paths');
  assert.equal(at({ ...valid, trigger: { type: 'event', event: 'Bad Name' } }), 'definition.trigger.event');
  assert.equal(at({ ...valid, entry: { grace_period_seconds: 10 } }), 'definition.entry.reentry');
  assert.equal(at({ ...valid, steps: [{ id: 'u', type: 'update_profile', set: { x: { nested: 1 } } }] }), 'definition.steps[0].set.x');
  assert.equal(at({ ...valid, steps: [{ id: 'w', type: 'wait', until: { time: '25:00' } }] }), 'definition.steps[0].until.time');
  const q = refusal({ ...valid, steps: [{ id: 'b', type: 'branch', condition: { attribute: 'tier', gt: 'x' }, then: null, else: null }] });
  assert.equal(q.kind, 'query');
  assert.equal(q.path, 'definition.steps[0].condition.gt');
  const filter = refusal({ ...valid, trigger: { type: 'event', event: 'buy', where: [{ attribute: 'total', within_last_days: 3 }] } });
  assert.equal(filter.kind, 'query');
  assert.equal(filter.path, 'definition.trigger.where[0].within_last_days');
  const liquid = refusal({ ...valid, steps: [{ id: 's', type: 'send', channels: ['email'], content: { email: { subject: '{{ x | nope }}', text: 't' } } }] });
  assert.equal(liquid.kind, 'template');
  assert.match(liquid.path, /^definition\.steps\[0\]\.content\.email\.subject/);
});

test('entry rules: a repeated trigger restarts a journey before its first send and is refused after it; re-entry, grace and the cap', () => {
  const once = { reentry: false, gracePeriodSeconds: 0, maxEntries: null };
  const again = { reentry: true, gracePeriodSeconds: 60, maxEntries: 2 };
  assert.deepEqual(decideEntry(once, undefined, undefined, 0), { kind: 'enter' });
  assert.deepEqual(decideEntry(once, { entries: 1, lastEndedAt: null }, { sent: 0 }, 0), { kind: 'restart' });
  assert.deepEqual(decideEntry(once, { entries: 1, lastEndedAt: null }, { sent: 1 }, 0), { kind: 'refuse', reason: 'already_in_journey' });
  assert.deepEqual(decideEntry(once, { entries: 1, lastEndedAt: 0 }, undefined, 1e9), { kind: 'refuse', reason: 'reentry_not_allowed' });
  assert.deepEqual(decideEntry(again, { entries: 1, lastEndedAt: 1_000 }, undefined, 60_999), { kind: 'refuse', reason: 'grace_period' });
  assert.deepEqual(decideEntry(again, { entries: 1, lastEndedAt: 1_000 }, undefined, 61_000), { kind: 'enter' });
  assert.deepEqual(decideEntry(again, { entries: 2, lastEndedAt: 1_000 }, undefined, 1e9), { kind: 'refuse', reason: 'max_entries' });
});

test('steps decide their next move: waits start then end, branches follow the condition, a split\'s draw is fixed by journey and step', () => {
  const m = parseDefinition({
    trigger: { type: 'api' },
    steps: [
      { id: 'w', type: 'wait', duration: { days: 30 } },
      { id: 'e', type: 'wait_for_event', event: 'opened', timeout: { days: 2 }, next: 'b', timeout_next: 's' },
      { id: 'b', type: 'branch', condition: { attribute: 'x', eq: 1 }, then: 's', else: 'x' },
      { id: 's', type: 'split', paths: [{ percent: 30, next: null }, { percent: 70, next: 'x' }] },
      { id: 'x', type: 'exit' },
    ],
  });
  const f = { now: 1_000, waiting: false, journeyId: 'j', zone: 'UTC' };
  assert.deepEqual(decideStep(m.steps.get('w')!, f), { kind: 'wait', until: 1_000 + 30 * 86_400_000 });
  assert.deepEqual(decideStep(m.steps.get('w')!, { ...f, waiting: true }), { kind: 'move', next: 'e', endsWait: true });
  assert.deepEqual(decideStep(m.steps.get('e')!, f), { kind: 'wait', until: 1_000 + 2 * 86_400_000, event: 'opened' });
  assert.deepEqual(decideStep(m.steps.get('e')!, { ...f, waiting: true }), { kind: 'move', next: 's', path: 'timeout', endsWait: true });
  assert.deepEqual(decideStep(m.steps.get('b')!, { ...f, condition: true }), { kind: 'move', next: 's', path: 'then' });
  assert.deepEqual(decideStep(m.steps.get('b')!, { ...f, condition: false }), { kind: 'move', next: 'x', path: 'else' });
  assert.deepEqual(decideStep(m.steps.get('x')!, f), { kind: 'exit', reason: 'exit_step' });
  // The split: the same journey takes the same path every time; 10,000 journeys come out near 30/70.
  const s = m.steps.get('s')!;
  assert.deepEqual(decideStep(s, f), decideStep(s, f));
  let first = 0;
  for (let i = 0; i < 10_000; i++) if (splitDraw(`journey-${i}`, 's') < 30) first++;
  assert.ok(first > 2_800 && first < 3_200, `${first} of 10,000 took the 30% path`);
});

test('a local-time wait ends at the next wall time on an allowed day, in the profile\'s zone, across DST', () => {
  // Friday 2026-03-27 12:00 UTC; Paris moves to summer time on Sunday 2026-03-29.
  const now = Date.parse('2026-03-27T12:00:00Z');
  const mon = nextLocalTime({ hour: 9, minute: 0 }, [0], 'Europe/Paris', now);
  assert.equal(new Date(mon).toISOString(), '2026-03-30T07:00:00.000Z');
  const today = nextLocalTime({ hour: 14, minute: 0 }, [0, 1, 2, 3, 4, 5, 6], 'Europe/Paris', now);
  assert.equal(new Date(today).toISOString(), '2026-03-27T13:00:00.000Z');
  // 09:00 already passed in Tokyo today: tomorrow's.
  assert.equal(new Date(waitEnd({ kind: 'local_time', time: { hour: 9, minute: 0 }, days: [0, 1, 2, 3, 4, 5, 6] }, now, 'Asia/Tokyo')).toISOString(), '2026-03-28T00:00:00.000Z');
  // 02:30 does not exist in Paris on the 29th: moved forward by the gap.
  const gap = nextLocalTime({ hour: 2, minute: 30 }, [6], 'Europe/Paris', now);
  assert.equal(new Date(gap).toISOString(), '2026-03-29T01:30:00.000Z');
});

test('segment triggers, webhook steps and the lifetime parse; bad ones are refused by path', () => {
  const seg = parseDefinition({ trigger: { type: 'segment', segment: '0190a000-0000-7000-8000-000000000000' }, steps: [{ id: 'x', type: 'exit' }] });
  assert.deepEqual(seg.trigger, { type: 'segment', query: { kind: 'segment', id: '0190a000-0000-7000-8000-000000000000' } });
  const inline = parseDefinition({ trigger: { type: 'segment', query: { event: 'purchase', within_days: 30 } }, steps: [{ id: 'x', type: 'exit' }] });
  assert.deepEqual(eventNamesOf(inline).sort(), ['$profile', 'purchase']);
  const hook = parseDefinition({
    trigger: { type: 'api' }, active: { until: '2027-01-01T00:00:00Z' }, max_duration: { days: 2 },
    steps: [{ id: 'h', type: 'webhook', endpoint_id: '0190a000-0000-7000-8000-000000000000', body: { who: '{{ profile.custom_id }}' }, on_failure: 'exit' }, { id: 'x', type: 'exit' }],
  });
  assert.deepEqual(hook.active, { from: null, until: Date.parse('2027-01-01T00:00:00Z') });
  assert.equal(hook.maxDurationMs, 2 * 86_400_000);
  const h = hook.steps.get('h')!;
  assert.ok(h.type === 'webhook' && h.next === 'x' && h.maxTries === 5 && h.onFailure === 'exit' && h.url === null);

  const step = (s: Record<string, unknown>) => refusal({ trigger: { type: 'api' }, steps: [{ id: 'h', type: 'webhook', endpoint_id: '0190a000-0000-7000-8000-000000000000', body: {}, ...s }] });
  assert.equal(step({ endpoint_id: 'nope' }).path, 'definition.steps[0].endpoint_id');
  assert.equal(step({ url: 'ftp://example.com/x' }).path, 'definition.steps[0].url');
  assert.equal(step({ url: 'https://u:p@example.com/x' }).path, 'definition.steps[0].url');
  assert.equal(step({ body: 'text' }).path, 'definition.steps[0].body');
  assert.equal(step({ body: { a: '{{ unclosed' } }).kind, 'template');
  assert.equal(step({ max_tries: 9 }).path, 'definition.steps[0].max_tries');
  assert.equal(step({ on_failure: 'retry' }).path, 'definition.steps[0].on_failure');
  assert.equal(refusal({ trigger: { type: 'segment' }, steps: [{ id: 'x', type: 'exit' }] }).path, 'definition.trigger');
  assert.equal(refusal({ trigger: { type: 'api' }, active: { from: '2027-01-01T00:00:00' }, steps: [{ id: 'x', type: 'exit' }] }).path, 'definition.active.from');
  assert.equal(refusal({ trigger: { type: 'api' }, max_duration: { days: 0 }, steps: [{ id: 'x', type: 'exit' }] }).path, 'definition.max_duration');
});

test('a webhook try: a 2xx delivers; 5xx, 429 and no answer are tried again until the tries are spent; a 4xx or a refused address fails at once', () => {
  const o = { tries: 1, maxTries: 3, now: 0, random: 0.5 };
  assert.deepEqual(decideTry({ status: 204 }, o), { kind: 'delivered', status: 204 });
  assert.deepEqual(decideTry({ status: 500, error: 'HTTP 500' }, o), { kind: 'retry', delayMs: 10_000, status: 500, error: 'HTTP 500' });
  assert.equal(decideTry({ error: 'ECONNRESET' }, { ...o, tries: 2 }).kind, 'retry');
  assert.deepEqual(decideTry({ status: 429, retryAfter: '120', error: 'HTTP 429' }, o), { kind: 'retry', delayMs: 120_000, status: 429, error: 'HTTP 429' });
  assert.deepEqual(decideTry({ status: 503, error: 'HTTP 503' }, { ...o, tries: 3 }), { kind: 'failed', reason: 'http_503', status: 503, error: 'HTTP 503' });
  assert.equal((decideTry({ error: 'ETIMEDOUT' }, { ...o, tries: 3 }) as { reason: string }).reason, 'network');
  assert.deepEqual(decideTry({ status: 404, error: 'HTTP 404' }, o), { kind: 'failed', reason: 'http_404', status: 404, error: 'HTTP 404' });
  assert.equal((decideTry({ error: 'refused', forbidden: true }, o) as { reason: string }).reason, 'forbidden_address');
});

test('entries are taken within the active period only', () => {
  assert.equal(activeRefusal({ from: 100, until: 200 }, 99), 'not_started');
  assert.equal(activeRefusal({ from: 100, until: 200 }, 100), null);
  assert.equal(activeRefusal({ from: 100, until: 200 }, 200), 'ended');
  assert.equal(activeRefusal({ from: null, until: null }, 0), null);
});
