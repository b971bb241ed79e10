import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Clock } from '../clock.js';
import { knownZones } from './local-time.js';
import {
  capReached, nextOccurrence, occurrenceKey, occurrenceOn, planRecipient, recipientPlanner, recipientZone, zoneGroups, type Occurrence, type RecipientPlan,
} from './plan.js';
import { parseWhen, type RecurringWhen, type When } from './when.js';

const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);
const minute = 60_000;
const hour = 60 * minute;

const christmas = (late?: unknown): When => parseWhen({ type: 'local', date: '2026-12-24', time: '09:00', ...(late ? { late } : {}) });
const recurring = (extra: Record<string, unknown>): RecurringWhen => parseWhen({ type: 'recurring', time: '09:00', ...extra }) as RecurringWhen;
const because = (p: RecipientPlan) => (p.action === 'send' ? p.because : p.reason);
const sendAt = (p: RecipientPlan) => {
  assert.equal(p.action, 'send', JSON.stringify(p));
  return iso((p as { at: number }).at);
};

test('local time: each recipient at 09:00 in their zone, the project\'s zone when theirs is missing or unknown', () => {
  const now = at('2026-12-20T00:00:00Z');
  const plan = (zone: string | null | undefined) => planRecipient(christmas(), { now, projectZone: 'Europe/Paris', zone });
  assert.equal(sendAt(plan('Pacific/Kiritimati')), '2026-12-23T19:00:00.000Z');
  assert.equal(sendAt(plan('Etc/GMT+12')), '2026-12-24T21:00:00.000Z');
  assert.equal(sendAt(plan('Asia/Kathmandu')), '2026-12-24T03:15:00.000Z');
  assert.equal(sendAt(plan('Australia/Lord_Howe')), '2026-12-23T22:00:00.000Z');
  assert.equal(sendAt(plan('America/New_York')), '2026-12-24T14:00:00.000Z');
  for (const zone of [null, undefined, '', 'Mars/Olympus_Mons', '+05:00']) {
    const p = plan(zone);
    assert.equal(sendAt(p), '2026-12-24T08:00:00.000Z');
    assert.equal(p.zone, 'Europe/Paris');
    assert.equal(because(p), 'on_time');
  }
  assert.throws(() => recipientZone('Europe/Paris', 'Nowhere/Land'), RangeError);
});

test('local time on the DST nights: 02:30 that does not exist is 03:30; 01:30 that happens twice is the first', () => {
  const now = at('2026-03-01T00:00:00Z');
  const local = (date: string, time: string) => parseWhen({ type: 'local', date, time });
  assert.equal(sendAt(planRecipient(local('2026-03-29', '02:30'), { now, projectZone: 'UTC', zone: 'Europe/Paris' })), '2026-03-29T01:30:00.000Z');
  assert.equal(sendAt(planRecipient(local('2026-03-08', '02:30'), { now, projectZone: 'UTC', zone: 'America/New_York' })), '2026-03-08T07:30:00.000Z');
  assert.equal(sendAt(planRecipient(local('2026-10-25', '02:30'), { now, projectZone: 'UTC', zone: 'Europe/Paris' })), '2026-10-25T00:30:00.000Z');
  assert.equal(sendAt(planRecipient(local('2026-11-01', '01:30'), { now, projectZone: 'UTC', zone: 'America/New_York' })), '2026-11-01T05:30:00.000Z');
});

test('late policy "skip" (the default): any lateness skips with local_time_passed; on the minute is on time', () => {
  const due = at('2026-12-24T08:00:00Z'); // 09:00 in Paris
  const plan = (now: number) => planRecipient(christmas(), { now, projectZone: 'Europe/Paris', zone: 'Europe/Paris' });
  assert.deepEqual(plan(due), { action: 'send', at: due, due, lateMs: 0, because: 'on_time', zone: 'Europe/Paris' });
  assert.deepEqual(plan(due - 1), { action: 'send', at: due, due, lateMs: 0, because: 'on_time', zone: 'Europe/Paris' });
  assert.deepEqual(plan(due + 1), { action: 'skip', reason: 'local_time_passed', due, lateMs: 1, zone: 'Europe/Paris' });
});

test('late policy "send_if_within": less than N minutes late sends at once; N minutes or more skips', () => {
  const due = at('2026-12-24T08:00:00Z');
  const when = christmas({ policy: 'send_if_within', within_minutes: 30 });
  const plan = (now: number) => planRecipient(when, { now, projectZone: 'UTC', zone: 'Europe/Paris' });
  assert.deepEqual(plan(due + 29 * minute), { action: 'send', at: due + 29 * minute, due, lateMs: 29 * minute, because: 'late', zone: 'Europe/Paris' });
  assert.deepEqual(plan(due + 30 * minute - 1), { action: 'send', at: due + 30 * minute - 1, due, lateMs: 30 * minute - 1, because: 'late', zone: 'Europe/Paris' });
  assert.deepEqual(plan(due + 30 * minute), { action: 'skip', reason: 'local_time_passed', due, lateMs: 30 * minute, zone: 'Europe/Paris' });
  assert.equal(because(plan(due)), 'on_time');
});

test('late policy "next_day": the same local time a day later, across a DST change; grace first; never two days', () => {
  // Paris, Saturday 28 March 2026 09:00 CET = 08:00Z; the next day is on summer time: 09:00 CEST = 07:00Z, 23 h later.
  const when = parseWhen({ type: 'local', date: '2026-03-28', time: '09:00', late: { policy: 'next_day', within_minutes: 10 } });
  const due = at('2026-03-28T08:00:00Z');
  const plan = (now: number, zone = 'Europe/Paris') => planRecipient(when, { now, projectZone: 'UTC', zone });
  assert.equal(because(plan(due + 9 * minute)), 'late');
  assert.deepEqual(plan(due + 10 * minute), { action: 'send', at: at('2026-03-29T07:00:00Z'), due, lateMs: 10 * minute, because: 'next_day', zone: 'Europe/Paris' });
  // The next day's 09:00 itself passed: skipped, not moved again.
  assert.equal(plan(at('2026-03-29T07:00:00Z')).action, 'send');
  assert.deepEqual(plan(at('2026-03-29T07:00:00Z') + 1), { action: 'skip', reason: 'local_time_passed', due, lateMs: at('2026-03-29T07:00:00Z') + 1 - due, zone: 'Europe/Paris' });
  // A campaign started at 12:00Z on the 28th: Tokyo (09:00 was 00:00Z) goes to the 29th, New York (13:00Z) is on time.
  const start = at('2026-03-28T12:00:00Z');
  assert.equal(sendAt(plan(start, 'Asia/Tokyo')), '2026-03-29T00:00:00.000Z');
  assert.equal(because(plan(start, 'Asia/Tokyo')), 'next_day');
  assert.equal(sendAt(plan(start, 'America/New_York')), '2026-03-28T13:00:00.000Z');
});

test('now and at: one instant for everyone; an instant that has passed sends at once', () => {
  const now = at('2026-12-24T10:00:00Z');
  assert.deepEqual(planRecipient(parseWhen({ type: 'now' }), { now, projectZone: 'Europe/Paris', zone: 'Asia/Tokyo' }),
    { action: 'send', at: now, due: now, lateMs: 0, because: 'on_time', zone: 'Europe/Paris' });
  const later = parseWhen({ type: 'at', instant: '2026-12-24T12:00:00+01:00' });
  assert.equal(sendAt(planRecipient(later, { now, projectZone: 'UTC', zone: 'Asia/Tokyo' })), '2026-12-24T11:00:00.000Z');
  const earlier = parseWhen({ type: 'at', instant: '2026-12-24T09:00:00Z' });
  assert.deepEqual(planRecipient(earlier, { now, projectZone: 'UTC' }), { action: 'send', at: now, due: at('2026-12-24T09:00:00Z'), lateMs: hour, because: 'late', zone: 'UTC' });
  // With a grace: sent while less than N minutes late, skipped with time_passed from N minutes on.
  const flash = parseWhen({ type: 'at', instant: '2026-12-24T09:00:00Z', late: { policy: 'send_if_within', within_minutes: 60 } });
  assert.equal(because(planRecipient(flash, { now: now - 1, projectZone: 'UTC' })), 'late');
  assert.deepEqual(planRecipient(flash, { now, projectZone: 'UTC' }), { action: 'skip', reason: 'time_passed', due: at('2026-12-24T09:00:00Z'), lateMs: hour, zone: 'UTC' });
});

test('zone groups: 09:00 on 24 December 2026 spans 26 hours, Kiritimati first and Etc/GMT+12 last', () => {
  const groups = zoneGroups({ year: 2026, month: 12, day: 24 }, { hour: 9, minute: 0 });
  const first = groups[0]!;
  const last = groups[groups.length - 1]!;
  assert.equal(iso(first.at), '2026-12-23T19:00:00.000Z');
  assert.ok(first.zones.includes('Pacific/Kiritimati'));
  assert.equal(iso(last.at), '2026-12-24T21:00:00.000Z');
  assert.deepEqual(last.zones, ['Etc/GMT+12']);
  assert.equal(last.at - first.at, 26 * hour);
  const kathmandu = groups.find((g) => g.zones.includes('Asia/Kathmandu'))!;
  assert.equal(iso(kathmandu.at), '2026-12-24T03:15:00.000Z');
  // Distinct instants, in order, every zone in exactly one group.
  for (let i = 1; i < groups.length; i++) assert.ok(groups[i]!.at > groups[i - 1]!.at);
  assert.equal(groups.reduce((n, g) => n + g.zones.length, 0), knownZones().length);
  assert.ok(groups.length >= 30 && groups.length <= 45, String(groups.length));
  // An audience's own zones (unknown names left out, duplicates once).
  assert.deepEqual(zoneGroups({ year: 2026, month: 7, day: 1 }, { hour: 9, minute: 0 }, ['Europe/Paris', 'Europe/Berlin', 'Africa/Lagos', 'Nowhere/Land', 'Europe/Paris']),
    [{ at: at('2026-07-01T07:00:00Z'), zones: ['Europe/Berlin', 'Europe/Paris'] }, { at: at('2026-07-01T08:00:00Z'), zones: ['Africa/Lagos'] }]);
});

/** Walks a recurring campaign's occurrences the way a scheduler would: each one after the last. */
const series = (when: RecurringWhen, projectZone: string, from: number, max = 20): Occurrence[] => {
  const out: Occurrence[] = [];
  let after = from;
  for (let o = nextOccurrence(when, projectZone, after); o && out.length < max; o = nextOccurrence(when, projectZone, after)) {
    out.push(o);
    after = o.latest;
  }
  return out;
};

test('weekly on Monday at 09:00 Paris stays at 09:00 across both 2026 DST changes', () => {
  const spring = recurring({ rule: 'FREQ=WEEKLY;BYDAY=MO', local: false, starts: '2026-03-16', count: 4 });
  assert.deepEqual(series(spring, 'Europe/Paris', at('2026-03-01T00:00:00Z')).map((o) => iso(o.earliest)),
    ['2026-03-16T08:00:00.000Z', '2026-03-23T08:00:00.000Z', '2026-03-30T07:00:00.000Z', '2026-04-06T07:00:00.000Z']);
  const autumn = recurring({ rule: 'FREQ=WEEKLY;BYDAY=MO', local: false, starts: '2026-10-19', count: 2 });
  assert.deepEqual(series(autumn, 'Europe/Paris', 0).map((o) => iso(o.earliest)), ['2026-10-19T07:00:00.000Z', '2026-10-26T08:00:00.000Z']);
  // The same in New York, whose clocks change on other days (8 March, 1 November).
  const ny = recurring({ rule: 'FREQ=WEEKLY;BYDAY=MO', local: false, starts: '2026-03-02', count: 2 });
  assert.deepEqual(series(ny, 'America/New_York', 0).map((o) => iso(o.earliest)), ['2026-03-02T14:00:00.000Z', '2026-03-09T13:00:00.000Z']);
});

test('a local recurring campaign: each occurrence spans UTC+14 … UTC−12, each recipient at 09:00 their time', () => {
  const when = recurring({ rule: 'FREQ=WEEKLY;BYDAY=MO', local: true, starts: '2026-03-23', count: 2 });
  const [first, second] = series(when, 'UTC', 0);
  assert.ok(first && second);
  assert.equal(occurrenceKey(first), '2026-03-23');
  assert.deepEqual([iso(first.earliest), iso(first.latest)], ['2026-03-22T19:00:00.000Z', '2026-03-23T21:00:00.000Z']);
  const plan = (o: Occurrence, zone: string) => sendAt(planRecipient(when, { now: 0, projectZone: 'UTC', zone, occurrence: o }));
  assert.equal(plan(first, 'Europe/Paris'), '2026-03-23T08:00:00.000Z');
  assert.equal(plan(second, 'Europe/Paris'), '2026-03-30T07:00:00.000Z');
  assert.equal(plan(second, 'Pacific/Kiritimati'), '2026-03-29T19:00:00.000Z');
  // The occurrence whose window still holds a recipient is the next one: at 12:00Z on the 23rd,
  // Paris is past but New York and Honolulu are not.
  assert.equal(nextOccurrence(when, 'UTC', at('2026-03-23T12:00:00Z'))?.index, 1);
  assert.equal(nextOccurrence(when, 'UTC', at('2026-03-23T21:00:00Z'))?.index, 2);
  assert.equal(nextOccurrence(when, 'UTC', at('2026-03-30T21:00:00Z')), null);
  assert.deepEqual(occurrenceOn(when, 'UTC', { year: 2026, month: 3, day: 30 }), second);
  assert.equal(occurrenceOn(when, 'UTC', { year: 2026, month: 3, day: 31 }), null);
  assert.throws(() => planRecipient(when, { now: 0, projectZone: 'UTC' }), TypeError);
});

test('monthly on the 31st, with COUNT and with UNTIL', () => {
  const count = recurring({ rule: 'FREQ=MONTHLY;BYMONTHDAY=31', local: false, starts: '2026-01-01', count: 4 });
  assert.deepEqual(series(count, 'UTC', 0).map(occurrenceKey), ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31']);
  const until = recurring({ rule: 'FREQ=MONTHLY;BYMONTHDAY=31', local: false, starts: '2026-01-01', until: '2026-07-31' });
  assert.deepEqual(series(until, 'UTC', 0).map(occurrenceKey), ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31']);
  const untilDay = recurring({ rule: 'FREQ=MONTHLY;BYMONTHDAY=31', local: false, starts: '2026-01-01', until: '2026-07-30' });
  assert.deepEqual(series(untilDay, 'UTC', 0).map(occurrenceKey), ['2026-01-31', '2026-03-31', '2026-05-31']);
  const last = recurring({ rule: 'FREQ=MONTHLY;BYMONTHDAY=-1', local: false, starts: '2026-01-01', count: 3 });
  assert.deepEqual(series(last, 'UTC', 0).map(occurrenceKey), ['2026-01-31', '2026-02-28', '2026-03-31']);
});

test('the per-profile cap: occurrences stop reaching a profile once it has received the cap', () => {
  const when = recurring({ rule: 'FREQ=DAILY', local: true, starts: '2026-05-01', per_profile_cap: 3 });
  const days = series(when, 'UTC', 0, 5);
  let received = 0;
  const got: string[] = [];
  for (const occurrence of days) {
    const p = planRecipient(when, { now: 0, projectZone: 'UTC', zone: 'Asia/Tokyo', occurrence, received });
    if (p.action === 'send') { received++; got.push(occurrenceKey(occurrence)); }
    else assert.equal(p.reason, 'cap_reached');
  }
  assert.deepEqual(got, ['2026-05-01', '2026-05-02', '2026-05-03']);
  assert.equal(capReached(when, 2), false);
  assert.equal(capReached(when, 3), true);
  assert.equal(capReached(recurring({ rule: 'FREQ=DAILY', local: true, starts: '2026-05-01' }), 1_000_000), false);
});

test('a recurring occurrence planned late follows its policy: within the grace sends, otherwise the occurrence is skipped', () => {
  const when = recurring({ rule: 'FREQ=DAILY', local: true, starts: '2026-05-01', late: { policy: 'send_if_within', within_minutes: 15 } });
  const occurrence = nextOccurrence(when, 'UTC', 0)!;
  const due = at('2026-05-01T07:00:00Z'); // 09:00 in Paris (CEST)
  const plan = (now: number) => planRecipient(when, { now, projectZone: 'UTC', zone: 'Europe/Paris', occurrence, received: 0 });
  assert.equal(plan(due + 15 * minute - 1).action, 'send');
  assert.deepEqual(plan(due + 15 * minute), { action: 'skip', reason: 'local_time_passed', due, lateMs: 15 * minute, zone: 'Europe/Paris' });
  // The cap is checked first: a capped profile is skipped for the cap, not for lateness.
  const capped = recurring({ rule: 'FREQ=DAILY', local: true, starts: '2026-05-01', per_profile_cap: 2, late: { policy: 'send_if_within', within_minutes: 15 } });
  assert.deepEqual(planRecipient(capped, { now: due + hour, projectZone: 'UTC', zone: 'Europe/Paris', occurrence, received: 2 }),
    { action: 'skip', reason: 'cap_reached', due, lateMs: hour, zone: 'Europe/Paris' });
});

test('property: for any zone, a local occurrence\'s send falls inside its window, and successive occurrences move forward', () => {
  const zones = knownZones();
  fc.assert(fc.property(
    fc.constantFrom('FREQ=DAILY', 'FREQ=WEEKLY;BYDAY=MO,TH', 'FREQ=MONTHLY;BYDAY=-1SU', 'FREQ=MONTHLY;BYMONTHDAY=31'),
    fc.constantFrom(...zones),
    fc.integer({ min: Date.UTC(2012, 0, 1), max: Date.UTC(2040, 0, 1) }),
    fc.constantFrom('00:00', '01:30', '02:30', '09:00', '23:59'),
    (rule, zone, from, time) => {
      const starts = new Date(from).toISOString().slice(0, 10);
      const when = recurring({ rule, time, local: true, starts, count: 8 });
      let previous = -Infinity;
      for (const occurrence of series(when, 'UTC', 0)) {
        const p = planRecipient(when, { now: 0, projectZone: 'UTC', zone, occurrence });
        assert.equal(p.action, 'send');
        assert.ok(p.due >= occurrence.earliest && p.due <= occurrence.latest, `${zone} ${occurrenceKey(occurrence)}`);
        assert.ok(p.due > previous, `${zone} ${rule} ${time} ${occurrenceKey(occurrence)}`);
        previous = p.due;
      }
    },
  ), { numRuns: 300 });
});

test('property: the per-zone planner answers as planRecipient does, for any zone, cap and moment', () => {
  const zones = [...knownZones().filter((_, i) => i % 7 === 0), null, 'Nowhere/Land', 'Europe/Paris'];
  const whens: When[] = [
    christmas(),
    christmas({ policy: 'send_if_within', within_minutes: 90 }),
    christmas({ policy: 'next_day', within_minutes: 5 }),
    parseWhen({ type: 'at', instant: '2026-12-24T09:00:00Z', late: { policy: 'send_if_within', within_minutes: 30 } }),
    recurring({ rule: 'FREQ=WEEKLY;BYDAY=TH', local: true, starts: '2026-12-01', per_profile_cap: 2, late: { policy: 'send_if_within', within_minutes: 20 } }),
  ];
  fc.assert(fc.property(
    fc.integer({ min: 0, max: whens.length - 1 }),
    fc.integer({ min: at('2026-12-23T00:00:00Z'), max: at('2026-12-26T00:00:00Z') }),
    fc.array(fc.record({ zone: fc.constantFrom(...zones), received: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 30 }),
    (w, now, recipients) => {
      const when = whens[w]!;
      const occurrence = when.type === 'recurring' ? occurrenceOn(when, 'Europe/Paris', { year: 2026, month: 12, day: 24 })! : undefined;
      const planner = recipientPlanner(when, { now, projectZone: 'Europe/Paris', occurrence });
      for (const { zone, received } of recipients) {
        assert.deepEqual(planner(zone, received), planRecipient(when, { now, projectZone: 'Europe/Paris', zone, occurrence, received }));
      }
    },
  ), { numRuns: 300 });
});

/** A clock that stands still until moved: the scenarios below set it where a scheduler would wake. */
const fixedClock = (start: number): Clock & { set(t: number): void } => {
  let t = start;
  return { now: () => t, sleep: async () => {}, set: (to: number) => { t = to; } };
};

test('scenario: a weekly local campaign driven by the clock over the spring change, capped at 3 per profile', () => {
  const when = recurring({ rule: 'FREQ=WEEKLY;BYDAY=MO', local: true, starts: '2026-03-16', until: '2026-04-27', per_profile_cap: 3 });
  const profiles = [
    { id: 'paris', zone: 'Europe/Paris', received: 0 },
    { id: 'new-york', zone: 'America/New_York', received: 1 }, // received one before this series was edited
    { id: 'kiritimati', zone: 'Pacific/Kiritimati', received: 0 },
    { id: 'nowhere', zone: 'Nowhere/Land', received: 0 }, // planned in the project's zone
  ];
  const sent: Record<string, string[]> = { paris: [], 'new-york': [], kiritimati: [], nowhere: [] };
  const clock = fixedClock(at('2026-03-10T00:00:00Z'));
  let after = clock.now();
  for (let o = nextOccurrence(when, 'Asia/Tokyo', after); o; o = nextOccurrence(when, 'Asia/Tokyo', after)) {
    // The scheduler plans each occurrence an hour before its earliest instant (UTC+14's 09:00).
    clock.set(o.earliest - hour);
    const planner = recipientPlanner(when, { now: clock.now(), projectZone: 'Asia/Tokyo', occurrence: o });
    for (const p of profiles) {
      const plan = planner(p.zone, p.received);
      if (plan.action === 'skip') { assert.equal(plan.reason, 'cap_reached'); continue; }
      assert.equal(plan.because, 'on_time');
      assert.ok(plan.at > clock.now());
      p.received++;
      sent[p.id]!.push(iso(plan.at));
    }
    after = o.latest;
  }
  // Paris: 09:00 CET (08:00Z) twice, then 09:00 CEST (07:00Z) after 29 March; the cap stops it at three.
  assert.deepEqual(sent.paris, ['2026-03-16T08:00:00.000Z', '2026-03-23T08:00:00.000Z', '2026-03-30T07:00:00.000Z']);
  // New York went to summer time on 8 March: 09:00 EDT = 13:00Z; one received before leaves two.
  assert.deepEqual(sent['new-york'], ['2026-03-16T13:00:00.000Z', '2026-03-23T13:00:00.000Z']);
  assert.deepEqual(sent.kiritimati, ['2026-03-15T19:00:00.000Z', '2026-03-22T19:00:00.000Z', '2026-03-29T19:00:00.000Z']);
  assert.deepEqual(sent.nowhere, ['2026-03-16T00:00:00.000Z', '2026-03-23T00:00:00.000Z', '2026-03-30T00:00:00.000Z']);
});

test('scenario: a local campaign started late by the clock: the late policy decides zone by zone', () => {
  // Started at 12:00Z on 24 December for 09:00 local, "send if less than 3 hours late".
  const when = christmas({ policy: 'send_if_within', within_minutes: 180 });
  const clock = fixedClock(at('2026-12-24T12:00:00Z'));
  const planner = recipientPlanner(when, { now: clock.now(), projectZone: 'UTC' });
  const outcome = (zone: string) => {
    const p = planner(zone);
    return p.action === 'send' ? `${p.because} ${iso(p.at)}` : `${p.reason} ${p.lateMs / minute} min`;
  };
  assert.equal(outcome('Asia/Tokyo'), 'local_time_passed 720 min'); // 09:00 JST was 00:00Z
  assert.equal(outcome('Asia/Kathmandu'), 'local_time_passed 525 min'); // 03:15Z
  assert.equal(outcome('Europe/Paris'), 'local_time_passed 240 min'); // 08:00Z
  assert.equal(outcome('Europe/London'), 'local_time_passed 180 min'); // 09:00Z: exactly 3 h is not less than 3 h
  assert.equal(outcome('Atlantic/Azores'), 'late 2026-12-24T12:00:00.000Z'); // 10:00Z: 2 h late, sent now
  assert.equal(outcome('America/Noronha'), 'late 2026-12-24T12:00:00.000Z'); // 11:00Z: 1 h late
  assert.equal(outcome('America/Sao_Paulo'), 'on_time 2026-12-24T12:00:00.000Z'); // 09:00 −03:00 = 12:00Z, due = now
  assert.equal(outcome('America/New_York'), 'on_time 2026-12-24T14:00:00.000Z');
  assert.equal(outcome('Etc/GMT+12'), 'on_time 2026-12-24T21:00:00.000Z');
});
