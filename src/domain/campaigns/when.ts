/**
 * When a campaign sends: the `when` of a campaign as untrusted JSON, parsed into a typed value or
 * refused with a WhenError naming the path of the bad field (`when.late.within_minutes`), in the
 * style of targeting/query.ts. plan.ts turns a parsed `when` into each recipient's send time.
 *
 *   { "type": "now" }
 *   { "type": "at", "instant": "2026-12-24T09:00:00+01:00",
 *     "late": { "policy": "send_if_within", "within_minutes": 60 } }
 *   { "type": "local", "date": "2026-12-24", "time": "09:00",
 *     "late": { "policy": "send_if_within", "within_minutes": 60 } }
 *   { "type": "recurring", "rule": "FREQ=WEEKLY;BYDAY=MO", "time": "09:00", "local": true,
 *     "starts": "2026-03-02", "until": "2026-06-29", "per_profile_cap": 10 }
 *
 * `local` is 09:00 on that date in each recipient's time zone (the project's when the profile has
 * none, or one the tz database does not know). A recurring campaign with `"local": true` does the
 * same on each date of its rule; with `"local": false` every occurrence is one instant, the time
 * in the project's zone.
 *
 * `late` says what happens to a recipient whose send time has already passed when Herald plans
 * it (a campaign started after 09:00 in Tokyo, or a scheduler that ran late):
 *   - "skip" (the default): not sent; the recipient is skipped with reason `local_time_passed`;
 *   - "send_if_within" with within_minutes N: sent at once if less than N minutes late, else
 *     skipped as above;
 *   - "next_day" (one-off local campaigns only), optionally with within_minutes N: sent at once if
 *     less than N minutes late, else at the same local time the next day; if that has passed too,
 *     skipped.
 * A recurring campaign cannot say "next_day": its next occurrence is the next chance.
 * A campaign `at` one instant is planned at that instant, a moment after it in fact, so "skip"
 * would skip everyone: without `late` it is sent however late Herald gets to it (after an
 * outage, say), and with "send_if_within" N it is skipped once N minutes have passed.
 */

import { formatDate, isValidDate, parseDate, parseTime, dayNumber, type LocalDate, type LocalTime } from './local-time.js';
import { occurrences, parseRule, RecurrenceError, withEnd, type RecurrenceRule } from './recurrence.js';

export type LatePolicy =
  | { policy: 'skip' }
  | { policy: 'send_if_within'; withinMinutes: number }
  /** withinMinutes 0: any lateness moves the send to the next day. */
  | { policy: 'next_day'; withinMinutes: number };

export type When =
  | { type: 'now' }
  /** late null: an instant that has passed when planned is sent at once, however late. */
  | { type: 'at'; instant: number; late: Extract<LatePolicy, { policy: 'send_if_within' }> | null }
  | { type: 'local'; date: LocalDate; time: LocalTime; late: LatePolicy }
  | {
      type: 'recurring';
      rule: RecurrenceRule;
      time: LocalTime;
      /** true: the time in each recipient's zone; false: in the project's zone. */
      local: boolean;
      starts: LocalDate;
      /** At most this many occurrences reach one profile; null: no cap beyond the rule's own end. */
      perProfileCap: number | null;
      late: LatePolicy;
    };

export type RecurringWhen = Extract<When, { type: 'recurring' }>;

export const whenLimits = { withinMinutes: 1440, perProfileCap: 100_000, count: 100_000 } as const;

/** A bad `when`: `path` names the field (`when.rule.BYSETPOS`), never echoes its value. */
export class WhenError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path} ${reason}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(v: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new WhenError(`${path}.${k}`, 'is not allowed here');
}

const types = ['now', 'at', 'local', 'recurring'] as const;

/** Parses an untrusted `when`; throws a WhenError naming the first bad field. */
export function parseWhen(input: unknown, path = 'when'): When {
  if (!isObject(input)) throw new WhenError(path, 'must be an object such as {"type": "now"}');
  const type = input.type;
  if (typeof type !== 'string' || !(types as readonly string[]).includes(type)) throw new WhenError(`${path}.type`, `must be one of ${types.map((t) => `"${t}"`).join(', ')}`);
  switch (type) {
    case 'now':
      only(input, ['type'], path);
      return { type: 'now' };
    case 'at': {
      only(input, ['type', 'instant', 'late'], path);
      const at = instant(input.instant, `${path}.instant`);
      if (input.late === undefined) return { type: 'at', instant: at, late: null };
      return { type: 'at', instant: at, late: late(input.late, `${path}.late`, 'at') as Extract<LatePolicy, { policy: 'send_if_within' }> };
    }
    case 'local': {
      only(input, ['type', 'date', 'time', 'late'], path);
      return { type: 'local', date: date(input.date, `${path}.date`), time: time(input.time, `${path}.time`), late: late(input.late, `${path}.late`, 'local') };
    }
    default:
      return recurring(input, path);
  }
}

/** parseWhen without the throw: the value, or the error naming the bad field. */
export function checkWhen(input: unknown, path = 'when'): { ok: true; when: When } | { ok: false; error: WhenError } {
  try {
    return { ok: true, when: parseWhen(input, path) };
  } catch (e) {
    if (e instanceof WhenError) return { ok: false, error: e };
    throw e;
  }
}

function date(v: unknown, path: string): LocalDate {
  const d = parseDate(v);
  if (!d) throw new WhenError(path, 'must be a calendar date YYYY-MM-DD (from 1970)');
  return d;
}

function time(v: unknown, path: string): LocalTime {
  const t = parseTime(v);
  if (!t) throw new WhenError(path, 'must be a time of day HH:MM on a 24-hour clock, such as "09:00"');
  return t;
}

/**
 * ISO-8601 with an offset: a date-time without one would be read in whatever zone the server is
 * in. Each field is checked, since Date.parse turns 2026-02-30 into 2 March.
 */
const instantPattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|([+-])(\d{2}):(\d{2}))$/;

function instant(v: unknown, path: string): number {
  const m = typeof v === 'string' ? instantPattern.exec(v) : null;
  const bad = () => new WhenError(path, 'must be an ISO-8601 date-time with an offset, such as "2026-12-24T09:00:00+01:00" or "2026-12-24T08:00:00Z"');
  if (!m) throw bad();
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  if (year < 1970 || !isValidDate(year, month, day) || hour > 23 || minute > 59 || second > 59) throw bad();
  if (m[7] !== undefined && (Number(m[8]) > 14 || Number(m[9]) > 59)) throw bad();
  const ms = Date.parse(v as string);
  if (Number.isNaN(ms)) throw bad();
  return ms;
}

function late(v: unknown, path: string, type: 'at' | 'local' | 'recurring'): LatePolicy {
  if (v === undefined) return { policy: 'skip' };
  const recurringCampaign = type === 'recurring';
  const policies = type === 'local' ? ['skip', 'send_if_within', 'next_day'] : type === 'at' ? ['send_if_within'] : ['skip', 'send_if_within'];
  if (!isObject(v)) throw new WhenError(path, 'must be an object such as {"policy": "send_if_within", "within_minutes": 30}');
  const policy = v.policy;
  if ((policy === 'skip' || policy === 'next_day') && type === 'at') throw new WhenError(`${path}.policy`, 'must be "send_if_within" for a campaign at one instant: it is planned at that instant, so anything else would skip everyone');
  if (policy === 'next_day' && recurringCampaign) throw new WhenError(`${path}.policy`, 'cannot be "next_day" in a recurring campaign: its next occurrence is the next chance ("skip" or "send_if_within")');
  if (typeof policy !== 'string' || !policies.includes(policy)) throw new WhenError(`${path}.policy`, `must be one of ${policies.map((p) => `"${p}"`).join(', ')}`);
  switch (policy) {
    case 'skip':
      only(v, ['policy'], path);
      return { policy: 'skip' };
    case 'send_if_within':
      only(v, ['policy', 'within_minutes'], path);
      return { policy: 'send_if_within', withinMinutes: minutes(v.within_minutes, `${path}.within_minutes`) };
    default:
      only(v, ['policy', 'within_minutes'], path);
      return { policy: 'next_day', withinMinutes: v.within_minutes === undefined ? 0 : minutes(v.within_minutes, `${path}.within_minutes`) };
  }
}

function minutes(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > whenLimits.withinMinutes) throw new WhenError(path, `must be a whole number of minutes from 1 to ${whenLimits.withinMinutes}`);
  return v;
}

function recurring(v: Record<string, unknown>, path: string): When {
  only(v, ['type', 'rule', 'time', 'local', 'starts', 'until', 'count', 'per_profile_cap', 'late'], path);
  let rule: RecurrenceRule;
  try {
    rule = parseRule(v.rule);
  } catch (e) {
    if (e instanceof RecurrenceError) throw new WhenError(e.part ? `${path}.rule.${e.part}` : `${path}.rule`, e.reason);
    throw e;
  }
  const at = time(v.time, `${path}.time`);
  if (typeof v.local !== 'boolean') throw new WhenError(`${path}.local`, 'must be true (the time in each recipient\'s zone) or false (in the project\'s zone)');
  const starts = date(v.starts, `${path}.starts`);
  if (v.until !== undefined && v.count !== undefined) throw new WhenError(`${path}.count`, 'cannot be given with "until": say one end');
  try {
    if (v.until !== undefined) {
      const until = date(v.until, `${path}.until`);
      if (dayNumber(until) < dayNumber(starts)) throw new WhenError(`${path}.until`, 'is before "starts"');
      rule = withEnd(rule, { until: { day: dayNumber(until), second: 86_399 } });
    }
    if (v.count !== undefined) {
      const count = v.count;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > whenLimits.count) throw new WhenError(`${path}.count`, `must be a whole number from 1 to ${whenLimits.count}`);
      rule = withEnd(rule, { count });
    }
  } catch (e) {
    if (e instanceof RecurrenceError) throw new WhenError(`${path}.${v.until !== undefined ? 'until' : 'count'}`, `cannot be given when the rule has ${e.part} too: say the end once`);
    throw e;
  }
  let perProfileCap: number | null = null;
  if (v.per_profile_cap !== undefined) {
    const cap = v.per_profile_cap;
    if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1 || cap > whenLimits.perProfileCap) throw new WhenError(`${path}.per_profile_cap`, `must be a whole number from 1 to ${whenLimits.perProfileCap}`);
    perProfileCap = cap;
  }
  const first = occurrences(rule, dayNumber(starts), at).next();
  if (first.done) throw new WhenError(`${path}.rule`, `produces no date on or after ${formatDate(starts)}`);
  return { type: 'recurring', rule, time: at, local: v.local, starts, perProfileCap, late: late(v.late, `${path}.late`, 'recurring') };
}
