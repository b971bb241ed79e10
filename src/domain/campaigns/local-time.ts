/**
 * Wall-clock time in an IANA time zone ↔ UTC instants, with nothing but the runtime's Intl (Node
 * ships full ICU and its tz database). A campaign says "09:00 in each recipient's zone"; this file
 * says which instant that is, including on the two days a year where a zone's clock jumps.
 *
 * The rules for a wall time that is not an ordinary one follow RFC 5545 §3.3.5
 * (https://www.rfc-editor.org/rfc/rfc5545#section-3.3.5), the same ones Temporal's default
 * `disambiguation: "compatible"` applies:
 *   - a time that does not exist (the spring-forward gap: 02:30 on the night Paris goes from 02:00
 *     to 03:00) "is interpreted using the UTC offset before the gap", so it moves forward by the
 *     length of the gap: 02:30 becomes 03:30 CEST;
 *   - a time that happens twice (the fall-back overlap: 02:30 on the night Paris goes from 03:00
 *     back to 02:00) is the first of the two, the one still on summer time.
 *
 * Calendar dates are days since 1970-01-01 (`DayNumber`) so that arithmetic on them is integer
 * arithmetic; `Date.UTC` is used only as a proleptic-Gregorian calendar, never to read the time.
 */

/** A calendar date with no zone: 1-based month and day. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/** A wall-clock time of day. */
export interface LocalTime {
  hour: number;
  minute: number;
}

export interface LocalDateTime extends LocalDate, LocalTime {
  second: number;
}

/** Days since 1970-01-01 in the proleptic Gregorian calendar. */
export type DayNumber = number;

const dayMs = 86_400_000;
const minuteMs = 60_000;

/**
 * Zone names Herald accepts: IANA-shaped (Area/Location, Etc/GMT+12, UTC). The pattern keeps out
 * the UTC-offset strings ("+05:00") some runtimes also accept as a time zone: an offset is not a
 * zone, it has no daylight-saving rules, and a profile's `timezone` is an IANA name.
 */
const zonePattern = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/;

/**
 * One formatter per zone: building an Intl.DateTimeFormat costs far more than using one, and a
 * fan-out converts the same few hundred zones again and again. Zone names come from profiles, so
 * from anyone: the cache is keyed by the lower-cased name (Intl matches zone names without regard
 * to case, ECMA-402 §6.5), which bounds it by the tz database's few hundred names however many
 * spellings arrive, and an invalid name is never cached.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat | null {
  const key = zone.toLowerCase();
  const cached = formatters.get(key);
  if (cached) return cached;
  if (zone.length > 64 || !zonePattern.test(zone)) return null;
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      // h23, not hour12: false: the latter prints midnight as "24" in some ICU versions.
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return null;
  }
  formatters.set(key, f);
  return f;
}

/** Whether `zone` is a time-zone name this runtime's tz database knows (case as Intl accepts it). */
export function isTimeZone(zone: unknown): zone is string {
  return typeof zone === 'string' && formatter(zone) !== null;
}

function requireFormatter(zone: string): Intl.DateTimeFormat {
  const f = formatter(zone);
  if (!f) throw new RangeError(`unknown time zone ${JSON.stringify(zone)}`);
  return f;
}

/** The wall clock in `zone` at `instant` (epoch ms), to the second. */
export function wallClock(zone: string, instant: number): LocalDateTime {
  const out: LocalDateTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let bc = false;
  for (const p of requireFormatter(zone).formatToParts(instant)) {
    switch (p.type) {
      case 'year': out.year = Number(p.value); break;
      case 'month': out.month = Number(p.value); break;
      case 'day': out.day = Number(p.value); break;
      case 'hour': out.hour = Number(p.value); break;
      case 'minute': out.minute = Number(p.value); break;
      case 'second': out.second = Number(p.value); break;
      case 'era': bc = p.value === 'BC' || p.value === 'B'; break;
    }
  }
  if (bc) out.year = 1 - out.year;
  return out;
}

/** `zone`'s UTC offset at `instant`, in milliseconds (Paris in summer: +7 200 000). */
export function offsetAt(zone: string, instant: number): number {
  const w = wallClock(zone, instant);
  const wallMs = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  // Intl formats whole seconds; compare with the instant floored to its second.
  return wallMs - Math.floor(instant / 1000) * 1000;
}

/** What a wall time is in a zone on a given day. */
export type WallTimeKind = 'exact' | 'gap' | 'ambiguous';

export interface ResolvedInstant {
  /** Epoch milliseconds. */
  instant: number;
  /**
   * `exact`: the wall time happens once; `gap`: it does not happen (moved forward by the gap);
   * `ambiguous`: it happens twice (this is the first).
   */
  kind: WallTimeKind;
}

/**
 * The instant at which the wall clock in `zone` reads `date` `time` (seconds 0).
 *
 * Every instant for a wall time w is w − offset for one of the zone's offsets around it. A day on
 * either side of w covers every zone's offsets at w (no zone changes its offset twice within two
 * days, and no change is larger than a day: Samoa's 2011 jump over 30 December is 24 h), so the
 * candidates are w − (offset a day before) and w − (offset a day after); each one that the zone
 * maps back to w is a real occurrence. None: w is in a gap and takes the offset before it.
 */
export function toInstant(zone: string, date: LocalDate, time: LocalTime, second = 0): ResolvedInstant {
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute, second);
  const before = offsetAt(zone, wall - dayMs);
  const after = offsetAt(zone, wall + dayMs);
  const found: number[] = [];
  for (const offset of before === after ? [before] : [before, after]) {
    const t = wall - offset;
    if (offsetAt(zone, t) === offset && !found.includes(t)) found.push(t);
  }
  found.sort((a, b) => a - b);
  if (found.length === 0) return { instant: wall - before, kind: 'gap' };
  return { instant: found[0] as number, kind: found.length > 1 ? 'ambiguous' : 'exact' };
}

/**
 * The widest UTC offsets any zone has had since 1970: UTC+14 (Pacific/Kiritimati, since 1995) and
 * UTC−12 (Etc/GMT+12, the uninhabited Baker and Howland islands). A wall time w happens in every
 * zone between w − 14 h and w + 12 h, which bounds a local-time campaign's spread to 26 hours.
 */
export const widestOffsets = { east: 14 * 60 * minuteMs, west: -12 * 60 * minuteMs } as const;

/** The first and last instant at which some zone's clock reads `date` `time`. */
export function wallTimeBounds(date: LocalDate, time: LocalTime): { earliest: number; latest: number } {
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
  return { earliest: wall - widestOffsets.east, latest: wall - widestOffsets.west };
}

export function dayNumber(date: LocalDate): DayNumber {
  return Math.round(Date.UTC(date.year, date.month - 1, date.day) / dayMs);
}

export function fromDayNumber(day: DayNumber): LocalDate {
  const d = new Date(day * dayMs);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** 0 = Monday … 6 = Sunday (ISO 8601 and RFC 5545's MO…SU order). 1970-01-01 was a Thursday. */
export function weekday(day: DayNumber): number {
  return (((day + 3) % 7) + 7) % 7;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function isValidDate(year: number, month: number, day: number): boolean {
  return Number.isInteger(year) && Number.isInteger(month) && Number.isInteger(day) && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** "2026-12-24" */
export function formatDate(date: LocalDate): string {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

/** "09:00" */
export function formatTime(time: LocalTime): string {
  return `${pad(time.hour)}:${pad(time.minute)}`;
}

/** Parses "YYYY-MM-DD" (a real calendar date, years 1970–9999), else null. */
export function parseDate(v: unknown): LocalDate | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return year >= 1970 && isValidDate(year, month, day) ? { year, month, day } : null;
}

/** Parses "HH:MM" on a 24-hour clock, else null. */
export function parseTime(v: unknown): LocalTime | null {
  if (typeof v !== 'string') return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  return m ? { hour: Number(m[1]), minute: Number(m[2]) } : null;
}

/**
 * IANA's current names for zones that ICU, and so Intl.supportedValuesOf in some Node versions,
 * still lists under an older one (Asia/Calcutta, Asia/Katmandu). Browsers and phones report
 * either, depending on their engine's age, so profiles carry both.
 */
const renamedZones = ['Asia/Kolkata', 'Asia/Kathmandu', 'Asia/Ho_Chi_Minh', 'Asia/Yangon', 'Europe/Kyiv', 'America/Nuuk', 'Pacific/Kanton', 'Atlantic/Faroe', 'Pacific/Chuuk', 'Pacific/Pohnpei'];

/**
 * Time-zone names to plan a fan-out over when no narrower list is given: the runtime's canonical
 * zones, the current names of renamed ones, UTC, and the fixed Etc/GMT±N zones that
 * Intl.supportedValuesOf leaves out (Etc/GMT+12 is the only zone at UTC−12).
 */
export function knownZones(): readonly string[] {
  if (!knownZoneList) {
    const etc = Array.from({ length: 27 }, (_, i) => i - 14).filter((n) => n !== 0).map((n) => `Etc/GMT${n > 0 ? '+' : ''}${n}`);
    const all = new Set([...Intl.supportedValuesOf('timeZone'), ...renamedZones, 'UTC', ...etc]);
    knownZoneList = [...all].filter((z) => isTimeZone(z)).sort();
  }
  return knownZoneList;
}
let knownZoneList: string[] | undefined;
