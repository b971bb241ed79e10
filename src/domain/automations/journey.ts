/**
 * What one step of a journey does next, given the facts the loop gathered for it (a condition's
 * answer, the clock, the profile's zone): move on to a step, start or end a wait, or exit. The
 * loop (scheduler/automations.ts) runs one step per transaction and performs the step's side
 * effect (a message, a profile change) in that same transaction; this file decides without I/O.
 *
 * A wait is visited twice: the first visit starts it (the journey's due time becomes the wait's
 * end), the second, when it is due, ends it. A wait for an event ends early when the event comes
 * (the loop moves the journey on its own); when it is due it has timed out.
 */
import { createHash } from 'node:crypto';
import { dayNumber, fromDayNumber, toInstant, wallClock, weekday } from '../campaigns/local-time.js';
import type { Step, WaitStep } from './definition.js';

export type StepResult =
  /** Go to `next` (null: the journey completes); `path` names the way a branch or split took, for its counts. */
  | { kind: 'move'; next: string | null; path?: string | undefined; endsWait?: boolean }
  /** Stay in this step, waiting until `until` (epoch ms), and for `event` if one is named. */
  | { kind: 'wait'; until: number; event?: string | undefined }
  | { kind: 'exit'; reason: string };

export interface StepFacts {
  now: number;
  /** The journey is in this step's wait already (its due time was the wait's end). */
  waiting: boolean;
  /** A branch's condition, evaluated against the profile now. */
  condition?: boolean | undefined;
  /** The journey's id: a split's draw is a hash of it and the step, so a step run again takes the same path. */
  journeyId: string;
  /** The zone a local-time wait reads the profile's wall clock in. */
  zone: string;
}

export function decideStep(step: Step, f: StepFacts): StepResult {
  switch (step.type) {
    case 'send':
    case 'update_profile':
    case 'webhook':
      return { kind: 'move', next: step.next };
    case 'wait':
      return f.waiting ? { kind: 'move', next: step.next, endsWait: true } : { kind: 'wait', until: waitEnd(step.wait, f.now, f.zone) };
    case 'wait_for_event':
      return f.waiting
        ? { kind: 'move', next: step.timeoutNext, path: 'timeout', endsWait: true }
        : { kind: 'wait', until: f.now + step.timeoutMs, event: step.event };
    case 'branch':
      if (f.condition === undefined) throw new Error(`branch ${step.id} decided without its condition`);
      return f.condition ? { kind: 'move', next: step.then, path: 'then' } : { kind: 'move', next: step.else, path: 'else' };
    case 'split': {
      const draw = splitDraw(f.journeyId, step.id);
      let upTo = 0;
      for (const [i, p] of step.paths.entries()) {
        upTo += p.percent;
        if (draw < upTo) return { kind: 'move', next: p.next, path: String(i) };
      }
      const last = step.paths.length - 1;
      return { kind: 'move', next: step.paths[last]!.next, path: String(last) };
    }
    case 'exit':
      return { kind: 'exit', reason: 'exit_step' };
  }
}

/** A uniform draw in [0, 100) fixed by the journey and the step. */
export function splitDraw(journeyId: string, stepId: string): number {
  const h = createHash('sha256').update(journeyId).update('\0').update(stepId).digest();
  return (h.readUInt32BE(0) / 0x1_0000_0000) * 100;
}

/** When a wait that starts at `now` ends. */
export function waitEnd(w: WaitStep, now: number, zone: string): number {
  if (w.kind === 'duration') return now + w.ms;
  return nextLocalTime(w.time, w.days, zone, now);
}

/**
 * The first instant after `now` at which the wall clock in `zone` reads `time` on one of `days`
 * (0 = Monday). A time a spring-forward gap skips is moved forward by the gap, as campaigns do
 * (local-time.ts#toInstant); a doubled one is taken the first time.
 */
export function nextLocalTime(time: { hour: number; minute: number }, days: readonly number[], zone: string, now: number): number {
  const w = wallClock(zone, now);
  const today = dayNumber(w);
  for (let k = 0; k <= 8; k++) {
    const day = today + k;
    if (!days.includes(weekday(day))) continue;
    const at = toInstant(zone, fromDayNumber(day), time).instant;
    if (at > now) return at;
  }
  // Unreachable with at least one day: a week and a day always hold one of them.
  throw new Error('no day of the week to wait for');
}
