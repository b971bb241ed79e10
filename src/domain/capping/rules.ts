/**
 * Capping rules: at most `max` sends per profile in a sliding window, counted over the sends a
 * rule's scope and channels cover. A send is one message reaching one profile, however many of
 * the profile's devices or addresses it reaches (three phones of one person count once).
 */
import type { Channel } from '../channels.js';

/** What a rule covers: every message, campaigns and automations, transactional sends, one campaign label, in-app messages. */
export const cappingScopes = ['all', 'marketing', 'transactional', 'label', 'in_app'] as const;
export type CappingScope = (typeof cappingScopes)[number];

/** Where a message came from, read from its group_id (`campaign:<id>`, `automation:<id>`, anything else a transactional send). */
export type MessageKind = 'campaign' | 'automation' | 'transactional';

export interface CappingRule {
  id: string;
  name: string;
  scope: CappingScope;
  /** The campaign label a `label` rule counts; null for the other scopes. */
  label: string | null;
  /** The channels a send must use to be covered; empty: every channel. */
  channels: readonly string[];
  max: number;
  windowMs: number;
  action: 'skip' | 'defer';
  /** A deferred message is skipped instead when it could go out only later than its creation plus this. */
  maxDelayMs: number | null;
}

/** One send as the rules see it: a past one (counted) or the one being decided. */
export interface CappedSend {
  kind: MessageKind;
  labels: readonly string[];
  /** The channels the message reaches the profile on. */
  channels: readonly (Channel | 'in_app')[];
}

export function kindOfGroup(groupId: string): MessageKind {
  if (groupId.startsWith('campaign:')) return 'campaign';
  if (groupId.startsWith('automation:')) return 'automation';
  return 'transactional';
}

/** Whether `rule` counts (and caps) `send`. Transactional sends are covered only by the scopes that name them. */
export function covers(rule: CappingRule, send: CappedSend): boolean {
  if (rule.channels.length && !send.channels.some((c) => rule.channels.includes(c))) return false;
  switch (rule.scope) {
    case 'all': return true;
    case 'marketing': return send.kind !== 'transactional';
    case 'transactional': return send.kind === 'transactional';
    case 'label': return rule.label !== null && send.labels.includes(rule.label);
    // No channel delivers in-app messages yet: an in_app rule covers what a future inbox channel sends.
    case 'in_app': return send.channels.includes('in_app');
  }
}

const hourMs = 3_600_000;
export function windowMs(amount: number, unit: 'hours' | 'days'): number {
  return amount * (unit === 'days' ? 24 * hourMs : hourMs);
}
