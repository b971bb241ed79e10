import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  dayNumber, fromDayNumber, isTimeZone, knownZones, offsetAt, parseDate, parseTime, toInstant, wallClock, wallTimeBounds, weekday,
  type LocalDate, type LocalTime,
} from './local-time.js';

const D = (s: string): LocalDate => parseDate(s) as LocalDate;
const T = (s: string): LocalTime => parseTime(s) as LocalTime;
const utc = (zone: string, date: string, time: string) => {
  const r = toInstant(zone, D(date), T(time));
  return { at: new Date(r.instant).toISOString(), kind: r.kind };
};

test('09:00 on one date across the widest zones and the odd offsets', () => {
  assert.deepEqual(utc('Pacific/Kiritimati', '2026-12-24', '09:00'), { at: '2026-12-23T19:00:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('Etc/GMT+12', '2026-12-24', '09:00'), { at: '2026-12-24T21:00:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('Asia/Kathmandu', '2026-12-24', '09:00'), { at: '2026-12-24T03:15:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('Asia/Kolkata', '2026-12-24', '09:00'), { at: '2026-12-24T03:30:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('UTC', '2026-12-24', '09:00'), { at: '2026-12-24T09:00:00.000Z', kind: 'exact' });
  // Lord Howe is on its half-hour summer time (+11:00) in December, +10:30 in winter.
  assert.deepEqual(utc('Australia/Lord_Howe', '2026-12-24', '09:00'), { at: '2026-12-23T22:00:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('Australia/Lord_Howe', '2026-06-24', '09:00'), { at: '2026-06-23T22:30:00.000Z', kind: 'exact' });
});

test('spring forward: a time in the gap moves forward by the gap (RFC 5545 §3.3.5)', () => {
  // Paris, 29 March 2026: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist → 03:30 CEST.
  assert.deepEqual(utc('Europe/Paris', '2026-03-29', '02:30'), { at: '2026-03-29T01:30:00.000Z', kind: 'gap' });
  assert.deepEqual(utc('Europe/Paris', '2026-03-29', '01:59'), { at: '2026-03-29T00:59:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('Europe/Paris', '2026-03-29', '02:00'), { at: '2026-03-29T01:00:00.000Z', kind: 'gap' });
  assert.deepEqual(utc('Europe/Paris', '2026-03-29', '03:00'), { at: '2026-03-29T01:00:00.000Z', kind: 'exact' });
  assert.equal(wallClock('Europe/Paris', Date.parse('2026-03-29T01:30:00Z')).hour, 3);
  // New York, 8 March 2026: 02:00 EST becomes 03:00 EDT.
  assert.deepEqual(utc('America/New_York', '2026-03-08', '02:30'), { at: '2026-03-08T07:30:00.000Z', kind: 'gap' });
  // Lord Howe, 4 October 2026: a 30-minute gap, 02:00 → 02:30; 02:15 becomes 02:45 (+11:00).
  assert.deepEqual(utc('Australia/Lord_Howe', '2026-10-04', '02:15'), { at: '2026-10-03T15:45:00.000Z', kind: 'gap' });
  assert.deepEqual(utc('Australia/Lord_Howe', '2026-10-04', '02:30'), { at: '2026-10-03T15:30:00.000Z', kind: 'exact' });
});

test('fall back: a time that happens twice is the first one', () => {
  // Paris, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and 01:30Z.
  assert.deepEqual(utc('Europe/Paris', '2026-10-25', '02:30'), { at: '2026-10-25T00:30:00.000Z', kind: 'ambiguous' });
  assert.deepEqual(utc('Europe/Paris', '2026-10-25', '03:00'), { at: '2026-10-25T02:00:00.000Z', kind: 'exact' });
  // New York, 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
  assert.deepEqual(utc('America/New_York', '2026-11-01', '01:30'), { at: '2026-11-01T05:30:00.000Z', kind: 'ambiguous' });
  assert.deepEqual(utc('America/New_York', '2026-11-01', '00:59'), { at: '2026-11-01T04:59:00.000Z', kind: 'exact' });
  assert.deepEqual(utc('America/New_York', '2026-11-01', '02:00'), { at: '2026-11-01T07:00:00.000Z', kind: 'exact' });
  // Lord Howe, 5 April 2026: 02:00 (+11:00) becomes 01:30 (+10:30); 01:45 happens twice.
  assert.deepEqual(utc('Australia/Lord_Howe', '2026-04-05', '01:45'), { at: '2026-04-04T14:45:00.000Z', kind: 'ambiguous' });
});

test('a whole day that never happened: Samoa skipped 30 December 2011, and 09:00 that day is 09:00 on the 31st', () => {
  assert.deepEqual(utc('Pacific/Apia', '2011-12-30', '09:00'), { at: '2011-12-30T19:00:00.000Z', kind: 'gap' });
  assert.deepEqual(utc('Pacific/Apia', '2011-12-31', '09:00'), { at: '2011-12-30T19:00:00.000Z', kind: 'exact' });
});

test('offsets with seconds (Monrovia until 1972) are kept to the second', () => {
  assert.equal(offsetAt('Africa/Monrovia', Date.parse('1971-06-01T12:00:00Z')), -(44 * 60 + 30) * 1000);
  assert.equal(new Date(toInstant('Africa/Monrovia', D('1971-06-01'), T('09:00')).instant).toISOString(), '1971-06-01T09:44:30.000Z');
});

test('zone names: IANA names the tz database knows; offsets, empty and unknown names are not zones', () => {
  for (const z of ['Europe/Paris', 'America/Argentina/Buenos_Aires', 'Etc/GMT+12', 'Etc/GMT-14', 'UTC', 'Asia/Calcutta']) assert.equal(isTimeZone(z), true, z);
  for (const z of ['', 'Mars/Olympus_Mons', '+05:00', 'GMT+5:00', 'Europe/Paris ', 'x'.repeat(100), 42, null, undefined]) assert.equal(isTimeZone(z), false, String(z));
  assert.throws(() => toInstant('Mars/Olympus_Mons', D('2026-01-01'), T('09:00')), RangeError);
  // Intl matches zone names without regard to case, and so does Herald.
  assert.equal(isTimeZone('europe/PARIS'), true);
  assert.equal(toInstant('europe/PARIS', D('2026-07-01'), T('09:00')).instant, Date.parse('2026-07-01T07:00:00Z'));
});

test('calendar helpers: ISO weekdays, day numbers, strict dates and times', () => {
  assert.equal(weekday(dayNumber(D('2026-03-30'))), 0); // a Monday
  assert.equal(weekday(dayNumber(D('1970-01-01'))), 3); // a Thursday
  assert.deepEqual(fromDayNumber(dayNumber(D('2028-02-29'))), D('2028-02-29'));
  for (const bad of ['2026-02-29', '2026-13-01', '2026-1-01', '1969-12-31', '2026-12-24T09:00']) assert.equal(parseDate(bad), null, bad);
  for (const bad of ['24:00', '9:00', '09:60', '09:00:00', '']) assert.equal(parseTime(bad), null, bad);
  assert.deepEqual(parseTime('23:59'), { hour: 23, minute: 59 });
});

test('the zone list covers UTC+14 to UTC−12', () => {
  const zones = knownZones();
  for (const z of ['Pacific/Kiritimati', 'Etc/GMT+12', 'Etc/GMT-14', 'UTC', 'Asia/Kathmandu', 'Australia/Lord_Howe']) assert.ok(zones.includes(z), z);
  assert.ok(zones.length > 400);
});

const zoneArb = fc.constantFrom(...knownZones());
const minute = 60_000;
const instantArb = fc.integer({ min: Date.parse('1972-02-01T00:00:00Z') / minute, max: Date.parse('2099-12-31T00:00:00Z') / minute }).map((m) => m * minute);

test('property: an instant read on a zone\'s wall clock converts back to itself (or to the first of two)', () => {
  fc.assert(fc.property(zoneArb, instantArb, (zone, t) => {
    const w = wallClock(zone, t);
    const r = toInstant(zone, w, w, w.second);
    assert.notEqual(r.kind, 'gap', 'a time read off the clock exists');
    if (r.kind === 'exact') assert.equal(r.instant, t);
    else {
      assert.ok(r.instant <= t);
      assert.deepEqual(wallClock(zone, r.instant), w);
    }
  }), { numRuns: 3000 });
});

test('property: a wall time converts to an instant that reads it back, except in a gap, where it reads later', () => {
  const dateArb = fc.integer({ min: dayNumber(D('1972-02-01')), max: dayNumber(D('2099-12-31')) }).map(fromDayNumber);
  const timeArb = fc.record({ hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }) });
  fc.assert(fc.property(zoneArb, dateArb, timeArb, (zone, date, time) => {
    const r = toInstant(zone, date, time);
    const back = wallClock(zone, r.instant);
    const wanted = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
    const got = Date.UTC(back.year, back.month - 1, back.day, back.hour, back.minute, back.second);
    if (r.kind === 'gap') assert.ok(got > wanted && got - wanted <= 86_400_000, `${zone} ${JSON.stringify(date)} ${JSON.stringify(time)}`);
    else assert.equal(got, wanted);
    // Every zone's instant for a wall time lies within UTC+14 … UTC−12 of it.
    const bounds = wallTimeBounds(date, time);
    assert.ok(r.instant >= bounds.earliest && r.instant <= bounds.latest, zone);
  }), { numRuns: 3000 });
});

test('property: later wall times on one date in one zone are never earlier instants, gaps aside', () => {
  // A time in a gap is read with the offset before it, so 02:30 on the night Paris skips 02:00–03:00
  // is 03:30 CEST, after 03:00: a gap is the one place where the order can turn.
  const dateArb = fc.integer({ min: dayNumber(D('1972-02-01')), max: dayNumber(D('2099-12-31')) }).map(fromDayNumber);
  const minuteArb = fc.integer({ min: 0, max: 1439 });
  fc.assert(fc.property(zoneArb, dateArb, minuteArb, minuteArb, (zone, date, a, b) => {
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const x = toInstant(zone, date, { hour: Math.floor(lo / 60), minute: lo % 60 });
    const y = toInstant(zone, date, { hour: Math.floor(hi / 60), minute: hi % 60 });
    if (x.kind !== 'gap' && y.kind !== 'gap') assert.ok(x.instant <= y.instant);
  }), { numRuns: 2000 });
});
