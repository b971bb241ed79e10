/**
 * Quiet hours: a project's nightly window, in each recipient's local time, during which marketing
 * messages wait (defer) or are dropped (skip). The window may cross midnight (22:00 to 08:00).
 */
import { dayNumber, fromDayNumber, toInstant, wallClock, type LocalTime } from '../campaigns/local-time.js';

export interface QuietHours {
  start: LocalTime;
  end: LocalTime;
  action: 'defer' | 'skip';
}

const minutes = (t: LocalTime) => t.hour * 60 + t.minute;

/**
 * When the quiet hours around `at` end in `zone`, or null when `at` is outside them. The end is
 * the next wall-clock `end` at or after `at` (a spring-forward gap moves it forward, as
 * domain/campaigns/local-time.ts#toInstant does).
 */
export function quietUntil(q: QuietHours, zone: string, at: number): number | null {
  const wall = wallClock(zone, at);
  const now = wall.hour * 60 + wall.minute;
  const [start, end] = [minutes(q.start), minutes(q.end)];
  if (start === end) return null;
  const quiet = start < end ? now >= start && now < end : now >= start || now < end;
  if (!quiet) return null;
  const today = dayNumber(wall);
  const day = now < end ? today : today + 1;
  return toInstant(zone, fromDayNumber(day), q.end).instant;
}
