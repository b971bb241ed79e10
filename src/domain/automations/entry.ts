/**
 * Whether a trigger makes a profile enter an automation, decided over the profile's entry history
 * and its running journey (docs/automations.md, "Entry rules"). What a repeated trigger does
 * depends on the first send: before it, the new trigger restarts the journey with its own
 * attributes (the journey that has said nothing yet is replaced, and counts as one entry with it);
 * after it, the trigger is refused while the journey runs, so nobody hears the same journey twice
 * at once. Once the journey has ended, `reentry`, the grace period and `max_entries` decide.
 */
import type { AutomationModel, EntryRules } from './definition.js';

export interface EntryHistory {
  /** Entries so far (a restart is not one more). */
  entries: number;
  /** When the profile's last journey in this automation ended (null: none has). */
  lastEndedAt: number | null;
}

export type EntryRefusal = 'already_in_journey' | 'reentry_not_allowed' | 'grace_period' | 'max_entries' | 'not_started' | 'ended';

/** Whether the automation takes entries at `now` (its `active` period): before `from` or from `until` on it does not. */
export function activeRefusal(active: AutomationModel['active'], now: number): 'not_started' | 'ended' | null {
  if (active.from !== null && now < active.from) return 'not_started';
  if (active.until !== null && now >= active.until) return 'ended';
  return null;
}

export type EntryDecision =
  | { kind: 'enter' }
  /** End the running journey (reason `restarted`) and enter again in its place. */
  | { kind: 'restart' }
  | { kind: 'refuse'; reason: EntryRefusal };

export function decideEntry(rules: EntryRules, history: EntryHistory | undefined, running: { sent: number } | undefined, now: number): EntryDecision {
  if (running) return running.sent === 0 ? { kind: 'restart' } : { kind: 'refuse', reason: 'already_in_journey' };
  if (!history || history.entries === 0) return { kind: 'enter' };
  if (!rules.reentry) return { kind: 'refuse', reason: 'reentry_not_allowed' };
  if (rules.maxEntries !== null && history.entries >= rules.maxEntries) return { kind: 'refuse', reason: 'max_entries' };
  if (history.lastEndedAt !== null && now < history.lastEndedAt + rules.gracePeriodSeconds * 1000) return { kind: 'refuse', reason: 'grace_period' };
  return { kind: 'enter' };
}
