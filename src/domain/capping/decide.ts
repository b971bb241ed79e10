/**
 * Whether one message may reach one profile now, given the profile's recent counted sends: send
 * it, skip it (with the reason), or defer it to the first instant every rule it hits allows. A
 * pure function of its inputs and `now` (the caller's clock): the store serialises the calls for
 * one profile and records what each admitted, so the history it passes in is complete.
 */
import { isTimeZone } from '../campaigns/local-time.js';
import { quietUntil, type QuietHours } from './quiet-hours.js';
import { covers, type CappedSend, type CappingRule } from './rules.js';

export interface CountedSend extends CappedSend {
  at: number;
}

export type CappingDecision =
  | { action: 'send' }
  | { action: 'skip'; reason: string }
  | { action: 'defer'; until: number; reason: string };

export const cappingReasons = {
  capped: (rule: CappingRule) => `capped: ${rule.name}`,
  cappedPastMaxDelay: (rule: CappingRule) => `capped: ${rule.name} (no room before the maximum delay)`,
  quietHours: 'quiet hours',
} as const;

export interface CappingInput {
  rules: readonly CappingRule[];
  /** The profile's counted sends, at least as far back as the longest window of `rules`. */
  history: readonly CountedSend[];
  send: CappedSend;
  /** When the message was created: a deferral may not pass createdAt + the rule's maxDelayMs. */
  createdAt: number;
  now: number;
  /** The project's quiet hours and the zone they are read in (the profile's, else the project's). */
  quiet?: { hours: QuietHours; zone: string } | null | undefined;
}

/**
 * The sliding window of a rule counts the covered sends in (t − window, t]: a send at s stops
 * counting at s + window exactly. A rule with c ≥ max covered sends in the window now is hit; it
 * allows the message again once the (c − max + 1) oldest have left, at sorted[c − max] + window.
 * With several rules hit, the message waits for the latest of those instants (each rule only gets
 * looser as time passes with no new send). Any hit rule whose action is skip skips the message.
 * Quiet hours cover marketing messages (campaigns, automations), never transactional ones.
 */
export function decideCapping(input: CappingInput): CappingDecision {
  const { now, send } = input;
  let until = now;
  let deferredBy: CappingRule | undefined;
  let deadline = Infinity;
  for (const rule of input.rules) {
    if (!covers(rule, send)) continue;
    const inWindow = input.history.filter((h) => h.at > now - rule.windowMs && covers(rule, h)).map((h) => h.at).sort((a, b) => a - b);
    if (inWindow.length < rule.max) continue;
    if (rule.action === 'skip') return { action: 'skip', reason: cappingReasons.capped(rule) };
    const release = inWindow[inWindow.length - rule.max]! + rule.windowMs;
    if (release > until) [until, deferredBy] = [release, rule];
    deadline = Math.min(deadline, input.createdAt + (rule.maxDelayMs ?? 0));
    if (until > deadline) return { action: 'skip', reason: cappingReasons.cappedPastMaxDelay(deferredBy ?? rule) };
  }
  const q = input.quiet;
  if (q && send.kind !== 'transactional' && isTimeZone(q.zone)) {
    const quietEnd = quietUntil(q.hours, q.zone, until);
    if (quietEnd !== null) {
      if (q.hours.action === 'skip') return { action: 'skip', reason: cappingReasons.quietHours };
      return { action: 'defer', until: quietEnd, reason: cappingReasons.quietHours };
    }
  }
  return deferredBy ? { action: 'defer', until, reason: cappingReasons.capped(deferredBy) } : { action: 'send' };
}
