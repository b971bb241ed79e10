/**
 * The recurrence rules a campaign may repeat on: a subset of RFC 5545 §3.3.10's RRULE
 * (https://www.rfc-editor.org/rfc/rfc5545#section-3.3.10), evaluated on local calendar dates.
 *
 *   FREQ=DAILY | WEEKLY | MONTHLY     required
 *   INTERVAL=n                        every n days, weeks or months (1 to 999; default 1)
 *   BYDAY=MO,WE | 1MO,-1FR            weekdays; an ordinal (1st … 5th, -1st … -5th) only with MONTHLY
 *   BYMONTHDAY=1,15,-1                days of the month (-1 is the last), MONTHLY or DAILY
 *   WKST=MO                           the first day of a week, for WEEKLY with INTERVAL > 1
 *   COUNT=n | UNTIL=YYYYMMDD[THHMMSS] how it ends (at most one of the two, as the RFC says)
 *
 * Any other part (BYSETPOS, BYHOUR, BYMONTH, FREQ=YEARLY, UNTIL in UTC, …) is refused with an
 * error naming it, never ignored: a rule that silently means less than it says would send on days
 * nobody chose.
 *
 * Occurrences are dates, not instants. A rule runs in "floating" local time (RFC 5545 §3.3.12's
 * form 1): the same sequence of dates in every zone, and the time of day is put on each date in
 * the zone that applies (the recipient's or the project's) only afterwards, by local-time.ts. So
 * "every Monday at 09:00" is 09:00 in Paris before and after the clocks change, COUNT counts the
 * same occurrences for a recipient in Tokyo and one in Lima, and UNTIL is a local date.
 *
 * Why not the `rrule` package: it expands rules on JavaScript Dates in UTC and applies a TZID
 * afterwards, and its issue tracker shows that going wrong across DST changes for years
 * (https://github.com/jkbrzt/rrule/issues/355, open: DTSTART with TZID gives times an hour off;
 * https://github.com/jkbrzt/rrule/issues/550: a daily series changes its time of day after DST).
 * The subset Herald needs is small, and computing it on dates makes the wall time exact by
 * construction; it is also one package fewer in src/domain, which may import none.
 *
 * Where the RFC leaves a choice, Herald's answer:
 *   - The campaign's `starts` date plays DTSTART: occurrences are the rule's dates on or after it.
 *     `starts` is an occurrence only if the rule produces it (RFC 5545 says DTSTART "SHOULD be
 *     synchronized" with the rule and leaves the unsynchronized case undefined).
 *   - Without BYDAY, WEEKLY repeats on `starts`'s weekday; without BYDAY or BYMONTHDAY, MONTHLY
 *     repeats on `starts`'s day of the month (the RFC takes both from DTSTART).
 *   - A month without the day asked for (the 31st in April, the 5th Monday of most months) has no
 *     occurrence that month: RFC 5545 says such instances "MUST be ignored". BYMONTHDAY=-1 is the
 *     way to say "the last day of every month".
 *   - BYDAY and BYMONTHDAY together keep the days that satisfy both (Friday the 13th:
 *     BYDAY=FR;BYMONTHDAY=13), as the RFC's table of expand and limit says for MONTHLY.
 *   - A rule that produces no date within 50 years of its last one is taken to produce no more
 *     (FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=30 started in February never occurs).
 */

import { dayNumber, daysInMonth, fromDayNumber, weekday, type DayNumber, type LocalTime } from './local-time.js';

export type Frequency = 'DAILY' | 'WEEKLY' | 'MONTHLY';

/** A BYDAY entry: a weekday (0 = Monday … 6 = Sunday) and, in MONTHLY rules, which one of the month. */
export interface WeekdayNum {
  weekday: number;
  /** 0: every such weekday; 1 … 5: the nth of the month; -1 … -5: the nth from the end. */
  nth: number;
}

/** The last local moment an occurrence may fall on, inclusive. */
export interface Until {
  day: DayNumber;
  /** Seconds after midnight; a date-only UNTIL includes the whole day. */
  second: number;
}

export interface RecurrenceRule {
  freq: Frequency;
  interval: number;
  byDay: WeekdayNum[] | null;
  byMonthDay: number[] | null;
  /** 0 = Monday. */
  weekStart: number;
  count: number | null;
  until: Until | null;
}

/** One occurrence of a rule: its 1-based position in the series and its local date. */
export interface RuleOccurrence {
  index: number;
  day: DayNumber;
}

export const recurrenceLimits = { interval: 999, count: 100_000, quietYears: 50 } as const;

/** A bad rule: `part` names the RRULE part at fault (`BYSETPOS`), null when it is the whole text. */
export class RecurrenceError extends Error {
  constructor(readonly part: string | null, readonly reason: string) {
    super(part ? `${part} ${reason}` : reason);
  }
}

const weekdayCodes = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
const supportedParts = ['FREQ', 'INTERVAL', 'BYDAY', 'BYMONTHDAY', 'WKST', 'COUNT', 'UNTIL'];
/** RFC 5545 parts (and RFC 7529's RSCALE and SKIP) that Herald knows and does not do. */
const unsupportedParts = ['BYSECOND', 'BYMINUTE', 'BYHOUR', 'BYWEEKNO', 'BYYEARDAY', 'BYMONTH', 'BYSETPOS', 'RSCALE', 'SKIP'];

/** Parses an RRULE value ("FREQ=WEEKLY;BYDAY=MO", optionally prefixed "RRULE:"). */
export function parseRule(text: unknown): RecurrenceRule {
  if (typeof text !== 'string' || text.length === 0 || text.length > 500) throw new RecurrenceError(null, 'must be an RRULE of at most 500 characters such as "FREQ=WEEKLY;BYDAY=MO"');
  // RFC 5545 §3.1: names and enumerated values are case-insensitive.
  const body = text.toUpperCase().replace(/^RRULE:/, '');
  const parts = new Map<string, string>();
  for (const piece of body.split(';')) {
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    if (eq < 0 || name === '') throw new RecurrenceError(null, 'has a part that is not NAME=VALUE (parts are separated by ";")');
    if (!/^[A-Z][A-Z0-9-]{0,19}$/.test(name)) throw new RecurrenceError(null, 'has a part whose name is not a recurrence rule part (RFC 5545 §3.3.10)');
    if (unsupportedParts.includes(name)) throw new RecurrenceError(name, `is not supported (Herald supports ${supportedParts.join(', ')})`);
    if (name === 'DTSTART') throw new RecurrenceError(name, 'is not part of a rule: the campaign\'s "starts" gives the first date');
    if (!supportedParts.includes(name)) throw new RecurrenceError(name, `is not a recurrence rule part (RFC 5545 §3.3.10; Herald supports ${supportedParts.join(', ')})`);
    if (parts.has(name)) throw new RecurrenceError(name, 'is given twice (RFC 5545: each part at most once)');
    parts.set(name, piece.slice(eq + 1));
  }

  const freqText = parts.get('FREQ');
  if (freqText === undefined) throw new RecurrenceError('FREQ', 'is required (DAILY, WEEKLY or MONTHLY)');
  if (freqText !== 'DAILY' && freqText !== 'WEEKLY' && freqText !== 'MONTHLY') {
    const known = ['SECONDLY', 'MINUTELY', 'HOURLY', 'YEARLY'].includes(freqText);
    throw new RecurrenceError('FREQ', known ? `${freqText} is not supported (DAILY, WEEKLY or MONTHLY)` : 'must be DAILY, WEEKLY or MONTHLY');
  }
  const freq: Frequency = freqText;

  const interval = parts.has('INTERVAL') ? wholeNumber(parts.get('INTERVAL'), 'INTERVAL', recurrenceLimits.interval) : 1;

  let byDay: WeekdayNum[] | null = null;
  if (parts.has('BYDAY')) {
    byDay = list(parts.get('BYDAY'), 'BYDAY').map((entry) => {
      const m = /^([+-]?)([1-5]?)(MO|TU|WE|TH|FR|SA|SU)$/.exec(entry);
      if (!m) throw new RecurrenceError('BYDAY', 'must list weekdays such as MO,WE or, in a MONTHLY rule, 1MO or -1FR (at most the 5th)');
      const nth = m[2] ? Number(m[2]) * (m[1] === '-' ? -1 : 1) : 0;
      if (m[1] && !m[2]) throw new RecurrenceError('BYDAY', 'has a sign without an ordinal');
      if (nth !== 0 && freq !== 'MONTHLY') throw new RecurrenceError('BYDAY', `takes an ordinal such as 1MO only in a MONTHLY rule (RFC 5545), not ${freq}`);
      return { weekday: weekdayCodes.indexOf(m[3] as (typeof weekdayCodes)[number]), nth };
    });
  }

  let byMonthDay: number[] | null = null;
  if (parts.has('BYMONTHDAY')) {
    if (freq === 'WEEKLY') throw new RecurrenceError('BYMONTHDAY', 'cannot be used with FREQ=WEEKLY (RFC 5545)');
    byMonthDay = list(parts.get('BYMONTHDAY'), 'BYMONTHDAY').map((entry) => {
      if (!/^[+-]?\d{1,2}$/.test(entry)) throw new RecurrenceError('BYMONTHDAY', 'must list days of the month from 1 to 31 or -1 to -31');
      const n = Number(entry);
      if (n === 0 || n < -31 || n > 31) throw new RecurrenceError('BYMONTHDAY', 'must list days of the month from 1 to 31 or -1 to -31');
      return n;
    });
  }

  let weekStart = 0;
  if (parts.has('WKST')) {
    weekStart = weekdayCodes.indexOf(parts.get('WKST') as (typeof weekdayCodes)[number]);
    if (weekStart < 0) throw new RecurrenceError('WKST', 'must be one of MO, TU, WE, TH, FR, SA, SU');
  }

  if (parts.has('COUNT') && parts.has('UNTIL')) throw new RecurrenceError('UNTIL', 'cannot be given with COUNT (RFC 5545: at most one of the two)');
  const count = parts.has('COUNT') ? wholeNumber(parts.get('COUNT'), 'COUNT', recurrenceLimits.count) : null;
  const until = parts.has('UNTIL') ? untilValue(parts.get('UNTIL') as string) : null;

  return { freq, interval, byDay, byMonthDay, weekStart, count, until };
}

function wholeNumber(v: string | undefined, part: string, max: number): number {
  if (v === undefined || !/^\d{1,6}$/.test(v) || Number(v) < 1 || Number(v) > max) throw new RecurrenceError(part, `must be a whole number from 1 to ${max}`);
  return Number(v);
}

function list(v: string | undefined, part: string): string[] {
  const items = (v ?? '').split(',');
  if (items.some((x) => x === '') || items.length > 31) throw new RecurrenceError(part, 'must be a comma-separated list of 1 to 31 values');
  return items;
}

function untilValue(v: string): Until {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(v);
  if (!m) throw new RecurrenceError('UNTIL', 'must be a local date YYYYMMDD or a local date-time YYYYMMDDTHHMMSS');
  if (m[7] === 'Z') throw new RecurrenceError('UNTIL', 'must be local (no Z): occurrences are counted in each recipient\'s wall time, so the end is a local date or date-time');
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw new RecurrenceError('UNTIL', 'is not a calendar date');
  let second = 86_399;
  if (m[4] !== undefined) {
    const [h, mi, s] = [Number(m[4]), Number(m[5]), Number(m[6])];
    if (h > 23 || mi > 59 || s > 59) throw new RecurrenceError('UNTIL', 'has a time of day that does not exist');
    second = h * 3600 + mi * 60 + s;
  }
  return { day: dayNumber({ year, month, day }), second };
}

/** The rule with an end added; refuses a second end (the rule's own COUNT or UNTIL and this one). */
export function withEnd(rule: RecurrenceRule, end: { count: number } | { until: Until }): RecurrenceRule {
  if (rule.count !== null || rule.until !== null) throw new RecurrenceError(rule.count !== null ? 'COUNT' : 'UNTIL', 'is given in the rule and again beside it: say the end once');
  return 'count' in end ? { ...rule, count: end.count } : { ...rule, until: end.until };
}

/** The candidate dates of one period (a day, a week or a month), ascending. */
function periodDays(rule: RecurrenceRule, start: DayNumber, period: number): DayNumber[] {
  const monthDayMatches = (year: number, month: number, dom: number) => {
    const dim = daysInMonth(year, month);
    return (rule.byMonthDay as number[]).some((n) => (n > 0 ? n : dim + n + 1) === dom);
  };
  switch (rule.freq) {
    case 'DAILY': {
      const day = start + period * rule.interval;
      if (rule.byDay && !rule.byDay.some((d) => d.weekday === weekday(day))) return [];
      if (rule.byMonthDay) {
        const date = fromDayNumber(day);
        if (!monthDayMatches(date.year, date.month, date.day)) return [];
      }
      return [day];
    }
    case 'WEEKLY': {
      const firstWeek = start - ((weekday(start) - rule.weekStart + 7) % 7);
      const weekBegins = firstWeek + 7 * rule.interval * period;
      const days = rule.byDay ? new Set(rule.byDay.map((d) => d.weekday)) : new Set([weekday(start)]);
      const out: DayNumber[] = [];
      for (let i = 0; i < 7; i++) if (days.has(weekday(weekBegins + i))) out.push(weekBegins + i);
      return out;
    }
    case 'MONTHLY': {
      const s = fromDayNumber(start);
      const monthIndex = s.year * 12 + (s.month - 1) + rule.interval * period;
      const year = Math.floor(monthIndex / 12);
      const month = (monthIndex % 12) + 1;
      const dim = daysInMonth(year, month);
      const first = dayNumber({ year, month, day: 1 });
      const byDayMatches = (dom: number): boolean => {
        const wd = weekday(first + dom - 1);
        const nthFromStart = Math.floor((dom - 1) / 7) + 1;
        const nthFromEnd = -(Math.floor((dim - dom) / 7) + 1);
        return (rule.byDay as WeekdayNum[]).some((d) => d.weekday === wd && (d.nth === 0 || d.nth === nthFromStart || d.nth === nthFromEnd));
      };
      const out: DayNumber[] = [];
      for (let dom = 1; dom <= dim; dom++) {
        let keep: boolean;
        if (rule.byMonthDay) keep = rule.byMonthDay.some((n) => (n > 0 ? n : dim + n + 1) === dom) && (!rule.byDay || byDayMatches(dom));
        else if (rule.byDay) keep = byDayMatches(dom);
        else keep = dom === s.day;
        if (keep) out.push(first + dom - 1);
      }
      return out;
    }
  }
}

/** The first day of a period, to know when a rule has gone quiet for too long. */
function periodBegins(rule: RecurrenceRule, start: DayNumber, period: number): DayNumber {
  switch (rule.freq) {
    case 'DAILY': return start + period * rule.interval;
    case 'WEEKLY': return start - ((weekday(start) - rule.weekStart + 7) % 7) + 7 * rule.interval * period;
    case 'MONTHLY': {
      const s = fromDayNumber(start);
      const monthIndex = s.year * 12 + (s.month - 1) + rule.interval * period;
      return dayNumber({ year: Math.floor(monthIndex / 12), month: (monthIndex % 12) + 1, day: 1 });
    }
  }
}

const lastDay = dayNumber({ year: 9999, month: 12, day: 31 });

/**
 * The rule's occurrences on or after `start`, in order, with `time` as each one's time of day
 * (for UNTIL with a time). Ends at COUNT, at UNTIL, at year 9999, or after 50 quiet years.
 */
export function* occurrences(rule: RecurrenceRule, start: DayNumber, time: LocalTime): Generator<RuleOccurrence> {
  const second = time.hour * 3600 + time.minute * 60;
  const quietDays = recurrenceLimits.quietYears * 366;
  let index = 0;
  let lastSeen = start;
  for (let period = 0; ; period++) {
    const begins = periodBegins(rule, start, period);
    if (begins > lastDay || begins - lastSeen > quietDays) return;
    for (const day of periodDays(rule, start, period)) {
      if (day < start) continue;
      if (rule.until && (day > rule.until.day || (day === rule.until.day && second > rule.until.second))) return;
      index++;
      lastSeen = day;
      yield { index, day };
      if (rule.count !== null && index >= rule.count) return;
    }
  }
}

/** The first occurrence on or after `day`, or null when the series ends before it. */
export function occurrenceOnOrAfter(rule: RecurrenceRule, start: DayNumber, time: LocalTime, day: DayNumber): RuleOccurrence | null {
  for (const o of occurrences(rule, start, time)) if (o.day >= day) return o;
  return null;
}
