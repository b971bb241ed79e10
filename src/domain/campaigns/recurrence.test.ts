import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dayNumber, daysInMonth, formatDate, fromDayNumber, parseDate, weekday, type LocalDate } from './local-time.js';
import { occurrenceOnOrAfter, occurrences, parseRule, RecurrenceError, type RecurrenceRule } from './recurrence.js';

const D = (s: string): number => dayNumber(parseDate(s) as LocalDate);
const nine = { hour: 9, minute: 0 };
const dates = (rule: string, start: string, max = 100): string[] => {
  const out: string[] = [];
  for (const o of occurrences(parseRule(rule), D(start), nine)) {
    out.push(formatDate(fromDayNumber(o.day)));
    if (out.length >= max) break;
  }
  return out;
};

const refused = (rule: unknown, part: string | null, reason?: RegExp) => {
  assert.throws(() => parseRule(rule), (e: unknown) => {
    assert.ok(e instanceof RecurrenceError, String(e));
    assert.equal(e.part, part);
    if (reason) assert.match(e.reason, reason);
    return true;
  });
};

test('unsupported or malformed parts are refused by name, never ignored', () => {
  refused('FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1', 'BYSETPOS', /not supported/);
  refused('FREQ=DAILY;BYHOUR=9', 'BYHOUR', /not supported/);
  refused('FREQ=YEARLY', 'FREQ', /YEARLY is not supported/);
  // The first part at fault in the text is the one named.
  refused('FREQ=YEARLY;BYMONTH=1', 'BYMONTH', /not supported/);
  refused('FREQ=HOURLY', 'FREQ', /not supported/);
  refused('FREQ=FORTNIGHTLY', 'FREQ', /DAILY, WEEKLY or MONTHLY/);
  refused('INTERVAL=2', 'FREQ', /required/);
  refused('FREQ=DAILY;X-NAME=1', 'X-NAME', /not a recurrence rule part/);
  refused('FREQ=DAILY;"><script>=1', null, /not a recurrence rule part/);
  refused('FREQ=DAILY;FREQ=WEEKLY', 'FREQ', /twice/);
  refused('FREQ=DAILY;COUNT=3;UNTIL=20261231', 'UNTIL', /COUNT/);
  refused('FREQ=WEEKLY;BYDAY=1MO', 'BYDAY', /only in a MONTHLY/);
  refused('FREQ=MONTHLY;BYDAY=6MO', 'BYDAY');
  refused('FREQ=MONTHLY;BYDAY=-MO', 'BYDAY');
  refused('FREQ=WEEKLY;BYDAY=MO,,TU', 'BYDAY', /comma-separated/);
  refused('FREQ=WEEKLY;BYMONTHDAY=1', 'BYMONTHDAY', /WEEKLY/);
  refused('FREQ=MONTHLY;BYMONTHDAY=0', 'BYMONTHDAY');
  refused('FREQ=MONTHLY;BYMONTHDAY=32', 'BYMONTHDAY');
  refused('FREQ=DAILY;INTERVAL=0', 'INTERVAL', /1 to 999/);
  refused('FREQ=DAILY;COUNT=1.5', 'COUNT');
  refused('FREQ=DAILY;UNTIL=20261231T235959Z', 'UNTIL', /local \(no Z\)/);
  refused('FREQ=DAILY;UNTIL=20260231', 'UNTIL', /calendar date/);
  refused('FREQ=DAILY;WKST=XX', 'WKST');
  refused('FREQ=DAILY;DTSTART=20260101', 'DTSTART', /starts/);
  refused('FREQ=DAILY;', null, /NAME=VALUE/);
  refused('', null);
  refused(42, null);
});

test('names are case-insensitive and an RRULE: prefix is allowed (RFC 5545 §3.1)', () => {
  const rule = parseRule('rrule:freq=weekly;byday=mo,fr;interval=2');
  assert.equal(rule.freq, 'WEEKLY');
  assert.equal(rule.interval, 2);
  assert.deepEqual(rule.byDay, [{ weekday: 0, nth: 0 }, { weekday: 4, nth: 0 }]);
});

// The expected dates below are RFC 5545 §3.8.5.3's own examples (DTSTART = `starts`).
test('RFC 5545 examples: daily and weekly', () => {
  assert.deepEqual(dates('FREQ=DAILY;INTERVAL=10;COUNT=5', '1997-09-02'), ['1997-09-02', '1997-09-12', '1997-09-22', '1997-10-02', '1997-10-12']);
  assert.deepEqual(dates('FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH;COUNT=8', '1997-09-02'),
    ['1997-09-02', '1997-09-04', '1997-09-16', '1997-09-18', '1997-09-30', '1997-10-02', '1997-10-14', '1997-10-16']);
  // Every other week on Monday, Wednesday and Friday until 24 December 1997 (a local UNTIL here).
  assert.deepEqual(dates('FREQ=WEEKLY;INTERVAL=2;UNTIL=19971223;WKST=SU;BYDAY=MO,WE,FR', '1997-09-01'), [
    '1997-09-01', '1997-09-03', '1997-09-05', '1997-09-15', '1997-09-17', '1997-09-19', '1997-09-29',
    '1997-10-01', '1997-10-03', '1997-10-13', '1997-10-15', '1997-10-17', '1997-10-27', '1997-10-29', '1997-10-31',
    '1997-11-10', '1997-11-12', '1997-11-14', '1997-11-24', '1997-11-26', '1997-11-28',
    '1997-12-08', '1997-12-10', '1997-12-12', '1997-12-22',
  ]);
  // WKST changes which days share a week when INTERVAL > 1.
  assert.deepEqual(dates('FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO', '1997-08-05'), ['1997-08-05', '1997-08-10', '1997-08-19', '1997-08-24']);
  assert.deepEqual(dates('FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU', '1997-08-05'), ['1997-08-05', '1997-08-17', '1997-08-19', '1997-08-31']);
});

test('RFC 5545 examples: monthly by weekday and by day of the month', () => {
  assert.deepEqual(dates('FREQ=MONTHLY;COUNT=10;BYDAY=1FR', '1997-09-05'),
    ['1997-09-05', '1997-10-03', '1997-11-07', '1997-12-05', '1998-01-02', '1998-02-06', '1998-03-06', '1998-04-03', '1998-05-01', '1998-06-05']);
  assert.deepEqual(dates('FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU', '1997-09-07'),
    ['1997-09-07', '1997-09-28', '1997-11-02', '1997-11-30', '1998-01-04', '1998-01-25', '1998-03-01', '1998-03-29', '1998-05-03', '1998-05-31']);
  assert.deepEqual(dates('FREQ=MONTHLY;COUNT=6;BYDAY=-2MO', '1997-09-22'), ['1997-09-22', '1997-10-20', '1997-11-17', '1997-12-22', '1998-01-19', '1998-02-16']);
  assert.deepEqual(dates('FREQ=MONTHLY;BYMONTHDAY=-3', '1997-09-28', 6), ['1997-09-28', '1997-10-29', '1997-11-28', '1997-12-29', '1998-01-29', '1998-02-26']);
  assert.deepEqual(dates('FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15', '1997-09-02'),
    ['1997-09-02', '1997-09-15', '1997-10-02', '1997-10-15', '1997-11-02', '1997-11-15', '1997-12-02', '1997-12-15', '1998-01-02', '1998-01-15']);
  assert.deepEqual(dates('FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1', '1997-09-30'),
    ['1997-09-30', '1997-10-01', '1997-10-31', '1997-11-01', '1997-11-30', '1997-12-01', '1997-12-31', '1998-01-01', '1998-01-31', '1998-02-01']);
  // Friday the 13th: BYDAY limits BYMONTHDAY. `starts` (a Tuesday) is not one, so it is not an occurrence.
  assert.deepEqual(dates('FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13', '1997-09-02', 5), ['1998-02-13', '1998-03-13', '1998-11-13', '1999-08-13', '2000-10-13']);
});

test('monthly on the 31st skips the months without one (RFC 5545: invalid dates are ignored); -1 is every month\'s last day', () => {
  assert.deepEqual(dates('FREQ=MONTHLY', '2026-01-31', 7), ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31', '2026-10-31', '2026-12-31']);
  assert.deepEqual(dates('FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3', '2026-01-01'), ['2026-01-31', '2026-03-31', '2026-05-31']);
  assert.deepEqual(dates('FREQ=MONTHLY;BYMONTHDAY=-1', '2026-01-15', 4), ['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30']);
  assert.deepEqual(dates('FREQ=MONTHLY;BYMONTHDAY=-1', '2028-02-01', 1), ['2028-02-29']);
  // The fifth Monday: only months that have one.
  assert.deepEqual(dates('FREQ=MONTHLY;BYDAY=5MO', '2026-01-01', 4), ['2026-03-30', '2026-06-29', '2026-08-31', '2026-11-30']);
});

test('COUNT counts from starts; UNTIL is an inclusive local date or date-time', () => {
  assert.deepEqual(dates('FREQ=WEEKLY;BYDAY=MO;COUNT=3', '2026-03-18'), ['2026-03-23', '2026-03-30', '2026-04-06']);
  assert.deepEqual(dates('FREQ=DAILY;UNTIL=20260303', '2026-03-01'), ['2026-03-01', '2026-03-02', '2026-03-03']);
  // An UNTIL with a time: 09:00 on the 3rd is after 08:59:59 that day, so the 3rd is out.
  assert.deepEqual(dates('FREQ=DAILY;UNTIL=20260303T085959', '2026-03-01'), ['2026-03-01', '2026-03-02']);
  assert.deepEqual(dates('FREQ=DAILY;UNTIL=20260303T090000', '2026-03-01'), ['2026-03-01', '2026-03-02', '2026-03-03']);
  const rule = parseRule('FREQ=WEEKLY;BYDAY=MO;COUNT=3');
  assert.deepEqual(occurrenceOnOrAfter(rule, D('2026-03-18'), nine, D('2026-03-24')), { index: 2, day: D('2026-03-30') });
  assert.equal(occurrenceOnOrAfter(rule, D('2026-03-18'), nine, D('2026-04-07')), null);
});

test('DAILY with BYDAY or BYMONTHDAY keeps only the matching days; a rule that never occurs ends', () => {
  assert.deepEqual(dates('FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR', '2026-03-27', 4), ['2026-03-27', '2026-03-30', '2026-03-31', '2026-04-01']);
  assert.deepEqual(dates('FREQ=DAILY;BYMONTHDAY=1', '2026-03-27', 2), ['2026-04-01', '2026-05-01']);
  assert.deepEqual(dates('FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=30', '2026-02-01'), []);
});

// Random rules within the subset: their occurrences must increase strictly, be numbered 1, 2, 3 …,
// start on or after `starts`, keep to COUNT, and satisfy every BY part they were given.
const ruleArb = fc.record({
  freq: fc.constantFrom('DAILY', 'WEEKLY', 'MONTHLY'),
  interval: fc.integer({ min: 1, max: 5 }),
  days: fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 4 }),
  nth: fc.constantFrom(0, 1, 2, -1, 5),
  monthDays: fc.uniqueArray(fc.constantFrom(1, 2, 13, 15, 28, 29, 30, 31, -1, -2), { minLength: 0, maxLength: 3 }),
  count: fc.option(fc.integer({ min: 1, max: 40 })),
  wkst: fc.integer({ min: 0, max: 6 }),
}).map(({ freq, interval, days, nth, monthDays, count, wkst }) => {
  const codes = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
  const parts = [`FREQ=${freq}`, `INTERVAL=${interval}`, `WKST=${codes[wkst]}`];
  if (days.length) parts.push(`BYDAY=${days.map((d) => `${freq === 'MONTHLY' && nth ? nth : ''}${codes[d]}`).join(',')}`);
  if (monthDays.length && freq !== 'WEEKLY') parts.push(`BYMONTHDAY=${monthDays.join(',')}`);
  if (count !== null) parts.push(`COUNT=${count}`);
  return parts.join(';');
});

test('property: occurrences strictly increase, are numbered in order and satisfy the rule', () => {
  const startArb = fc.integer({ min: D('1990-01-01'), max: D('2090-12-31') });
  fc.assert(fc.property(ruleArb, startArb, (text, start) => {
    const rule: RecurrenceRule = parseRule(text);
    let previous = -Infinity;
    let n = 0;
    for (const o of occurrences(rule, start, nine)) {
      n++;
      assert.equal(o.index, n);
      assert.ok(o.day > previous && o.day >= start, text);
      previous = o.day;
      const date = fromDayNumber(o.day);
      const dim = daysInMonth(date.year, date.month);
      if (rule.byDay) assert.ok(rule.byDay.some((d) => d.weekday === weekday(o.day)), text);
      if (rule.byMonthDay) assert.ok(rule.byMonthDay.some((m) => (m > 0 ? m : dim + m + 1) === date.day), text);
      if (rule.freq === 'DAILY') assert.equal((o.day - start) % rule.interval, 0);
      if (n >= 60) break;
    }
    if (rule.count !== null) assert.ok(n <= rule.count);
  }), { numRuns: 1500 });
});
