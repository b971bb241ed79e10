/**
 * From a parsed `when` to send times: when one recipient's message is due, or that it is late and
 * what the campaign's late policy makes of it; the distinct instants a local-time send spans, so a
 * fan-out can be planned one zone group at a time; a recurring campaign's next occurrence; and the
 * per-profile cap. Time comes only from the `now` passed in (the caller reads its Clock).
 *
 * Which zone: the profile's `timezone` when the tz database knows it, else the project's. An
 * unknown name (a typo, or a zone newer than this runtime's ICU data) is treated like no zone
 * rather than refused: the recipient still gets the campaign, at the project's local time.
 *
 * Late means the recipient's due instant is before `now` when the plan is made. "Less than N
 * minutes late" is strict: at exactly N minutes the recipient is late beyond the grace. A due
 * instant equal to `now` is on time. So a scheduler plans ahead: a local campaign when it starts
 * (its recipients' times are then hours away), each occurrence of a recurring one as soon as the
 * one before it is planned (nextOccurrence after it), before the occurrence's earliest instant.
 * Only a campaign started late, or a plan redone after an outage, meets the late policy.
 */

import {
  dayNumber, formatDate, fromDayNumber, isTimeZone, knownZones, toInstant, wallTimeBounds,
  type LocalDate, type LocalTime,
} from './local-time.js';
import { occurrences } from './recurrence.js';
import type { LatePolicy, RecurringWhen, When } from './when.js';

const minuteMs = 60_000;

export type SkipReason =
  /** The recipient's local send time had passed, and the late policy does not send. */
  | 'local_time_passed'
  /** A campaign at one instant was planned more than its send_if_within minutes after it. */
  | 'time_passed'
  /** The profile has received as many occurrences as the campaign's per_profile_cap. */
  | 'cap_reached';

export type RecipientPlan =
  | {
      action: 'send';
      /** When to send (epoch ms): `due`, or `now` when sent late, or the next day's time. */
      at: number;
      /** When it was meant to go: the time in the recipient's zone. */
      due: number;
      /** How late the plan was made (0 when on time). */
      lateMs: number;
      /**
       * on_time: at = due. late: at = now, within the grace (or a one-off instant that had passed).
       * next_day: at = the same local time a day later.
       */
      because: 'on_time' | 'late' | 'next_day';
      /** The zone whose wall clock decided `due`. */
      zone: string;
    }
  | { action: 'skip'; reason: SkipReason; due: number; lateMs: number; zone: string };

/** One occurrence of a recurring campaign. */
export interface Occurrence {
  /** 1-based position in the series: what COUNT counts. */
  index: number;
  date: LocalDate;
  /**
   * The first and last instant a recipient's send can fall on: one instant when the campaign is
   * not local; for a local one the bounds of every zone's clock reading the time on that date
   * (a 26-hour window, UTC+14 to UTC−12).
   */
  earliest: number;
  latest: number;
}

/** The zone a recipient's local time is read in: theirs if known, else the project's. */
export function recipientZone(zone: string | null | undefined, projectZone: string): string {
  if (!isTimeZone(projectZone)) throw new RangeError(`the project's time zone ${JSON.stringify(projectZone)} is not a known time zone`);
  return isTimeZone(zone) ? zone : projectZone;
}

export interface RecipientInput {
  /** The clock's now (epoch ms). */
  now: number;
  projectZone: string;
  /** The profile's time zone, if any. */
  zone?: string | null | undefined;
  /** For a recurring campaign: the occurrence being planned (from nextOccurrence or occurrenceOn). */
  occurrence?: Occurrence | undefined;
  /** For a recurring campaign: how many of its occurrences this profile has been sent already. */
  received?: number | undefined;
}

/** When this recipient's send is due, or why it is skipped. */
export function planRecipient(when: When, input: RecipientInput): RecipientPlan {
  const { now, projectZone } = input;
  switch (when.type) {
    case 'now':
      return { action: 'send', at: now, due: now, lateMs: 0, because: 'on_time', zone: recipientZone(null, projectZone) };
    case 'at': {
      // A one-off instant that has passed (the scheduler was down, or the campaign was started
      // late) is sent at once, unless the campaign gave a send_if_within grace and it is over.
      const zone = recipientZone(null, projectZone);
      const due = when.instant;
      if (due >= now) return { action: 'send', at: due, due, lateMs: 0, because: 'on_time', zone };
      const lateMs = now - due;
      if (when.late && lateMs >= when.late.withinMinutes * minuteMs) return { action: 'skip', reason: 'time_passed', due, lateMs, zone };
      return { action: 'send', at: now, due, lateMs, because: 'late', zone };
    }
    case 'local': {
      const zone = recipientZone(input.zone, projectZone);
      const due = toInstant(zone, when.date, when.time).instant;
      const nextDay = () => toInstant(zone, fromDayNumber(dayNumber(when.date) + 1), when.time).instant;
      return decide(due, now, when.late, zone, nextDay);
    }
    case 'recurring': {
      const occurrence = input.occurrence;
      if (!occurrence) throw new TypeError('a recurring campaign is planned one occurrence at a time: pass the occurrence');
      const zone = recipientZone(when.local ? input.zone : null, projectZone);
      const due = toInstant(zone, occurrence.date, when.time).instant;
      if (capReached(when, input.received ?? 0)) return { action: 'skip', reason: 'cap_reached', due, lateMs: Math.max(0, now - due), zone };
      return decide(due, now, when.late, zone, null);
    }
  }
}

function decide(due: number, now: number, late: LatePolicy, zone: string, nextDay: (() => number) | null): RecipientPlan {
  if (due >= now) return { action: 'send', at: due, due, lateMs: 0, because: 'on_time', zone };
  const lateMs = now - due;
  const skip: RecipientPlan = { action: 'skip', reason: 'local_time_passed', due, lateMs, zone };
  switch (late.policy) {
    case 'skip':
      return skip;
    case 'send_if_within':
      return lateMs < late.withinMinutes * minuteMs ? { action: 'send', at: now, due, lateMs, because: 'late', zone } : skip;
    case 'next_day': {
      if (lateMs < late.withinMinutes * minuteMs) return { action: 'send', at: now, due, lateMs, because: 'late', zone };
      // At most one day: a campaign started more than a day after its local time has passed
      // everywhere is over for this recipient, not moved again.
      const at = nextDay ? nextDay() : Number.NaN;
      return at >= now ? { action: 'send', at, due, lateMs, because: 'next_day', zone } : skip;
    }
  }
}

/**
 * planRecipient for many recipients of one campaign (or one occurrence) planned at one `now`:
 * the answer depends only on the recipient's zone (and, for the cap, on what they received), so
 * it is computed once per zone name. A fan-out of a million profiles makes a few hundred
 * conversions instead of a million.
 */
export function recipientPlanner(when: When, input: Omit<RecipientInput, 'zone' | 'received'>): (zone: string | null | undefined, received?: number) => RecipientPlan {
  const byZone = new Map<string, RecipientPlan>();
  return (zone, received = 0) => {
    const key = typeof zone === 'string' ? zone : '';
    let plan = byZone.get(key);
    if (!plan) {
      plan = planRecipient(when, { ...input, zone, received: 0 });
      byZone.set(key, plan);
    }
    if (when.type === 'recurring' && capReached(when, received)) return { action: 'skip', reason: 'cap_reached', due: plan.due, lateMs: plan.lateMs, zone: plan.zone };
    return plan;
  };
}

/** Whether a profile that has been sent `received` occurrences may get no more of them. */
export function capReached(when: RecurringWhen, received: number): boolean {
  return when.perProfileCap !== null && received >= when.perProfileCap;
}

/** One instant of a local-time send and the zones whose clocks read the time then. */
export interface ZoneGroup {
  at: number;
  zones: string[];
}

/**
 * The distinct instants at which `time` on `date` happens in `zones` (by default every zone the
 * runtime knows), earliest first, each with its zones. For 09:00 on 24 December 2026 the first
 * group is Pacific/Kiritimati's (UTC+14, 19:00 UTC the day before) and the last Etc/GMT+12's
 * (UTC−12, 21:00 UTC): a 26-hour spread. Names the tz database does not know are left out: their
 * recipients are planned in the project's zone (recipientZone).
 */
export function zoneGroups(date: LocalDate, time: LocalTime, zones: readonly string[] = knownZones()): ZoneGroup[] {
  const byInstant = new Map<number, string[]>();
  for (const zone of new Set(zones)) {
    if (!isTimeZone(zone)) continue;
    const at = toInstant(zone, date, time).instant;
    const group = byInstant.get(at);
    if (group) group.push(zone);
    else byInstant.set(at, [zone]);
  }
  return [...byInstant].sort((a, b) => a[0] - b[0]).map(([at, z]) => ({ at, zones: z.sort() }));
}

function occurrenceFor(when: RecurringWhen, projectZone: string, index: number, day: number): Occurrence {
  const date = fromDayNumber(day);
  if (when.local) return { index, date, ...wallTimeBounds(date, when.time) };
  const at = toInstant(recipientZone(null, projectZone), date, when.time).instant;
  return { index, date, earliest: at, latest: at };
}

/**
 * The first occurrence of which some recipient's send is still after `after`: for a campaign in
 * the project's zone, the first occurrence instant after `after`; for a local one, the first
 * whose latest instant (UTC−12) is after it. Null when the series has ended.
 */
export function nextOccurrence(when: RecurringWhen, projectZone: string, after: number): Occurrence | null {
  for (const o of occurrences(when.rule, dayNumber(when.starts), when.time)) {
    // Every zone's instant for a wall time lies within its bounds: skip cheaply before converting.
    if (wallTimeBounds(fromDayNumber(o.day), when.time).latest <= after) continue;
    const occurrence = occurrenceFor(when, projectZone, o.index, o.day);
    if (occurrence.latest > after) return occurrence;
  }
  return null;
}

/** The occurrence on a local date (as stored by a scheduler), or null if the rule has none then. */
export function occurrenceOn(when: RecurringWhen, projectZone: string, date: LocalDate): Occurrence | null {
  const day = dayNumber(date);
  for (const o of occurrences(when.rule, dayNumber(when.starts), when.time)) {
    if (o.day === day) return occurrenceFor(when, projectZone, o.index, o.day);
    if (o.day > day) break;
  }
  return null;
}

/** A stable key for an occurrence ("2026-03-30"), e.g. to record which ones a profile received. */
export function occurrenceKey(occurrence: Occurrence): string {
  return formatDate(occurrence.date);
}
