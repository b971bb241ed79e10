/**
 * What one device may show now (docs/in-app.md): a message's status, its dates (instants, or wall
 * times in the recipient's zone), its audience over the profile as PostgreSQL has it at this
 * moment, its own display capping and the project's in_app capping rules over the displays
 * counted so far. The sync asks it of every running message; the display check of one, just
 * before the device shows it. Pure: the store loads, the caller's clock says when.
 */
import { decideCapping, type CountedSend } from '../capping/decide.js';
import type { CappingRule } from '../capping/rules.js';
import { isTimeZone, toInstant } from '../campaigns/local-time.js';
import { matches, type TargetingSubject } from '../targeting/evaluate.js';
import type { Query } from '../targeting/query.js';
import type { DateBound, InAppModel } from './definition.js';

export const inAppStatuses = ['draft', 'running', 'stopped'] as const;
export type InAppStatus = (typeof inAppStatuses)[number];

export const refusalReasons = ['stopped', 'ended', 'not_started', 'not_targeted', 'capped', 'unknown_message'] as const;
export type RefusalReason = (typeof refusalReasons)[number];

export type Eligibility = { show: true } | { show: false; reason: RefusalReason };

/** This owner's displays of one message so far (an owner: the profile, else the anonymous installation). */
export interface MessageDisplays {
  count: number;
  /** Epoch ms of the latest, or null. */
  lastAt: number | null;
}

export interface EligibilityInput {
  status: InAppStatus;
  model: InAppModel;
  /** The audience with saved segments expanded (null: everyone). */
  audience: Query | null;
  /** What targeting sees of the profile (an anonymous installation: its own device, no attributes). */
  subject: TargetingSubject;
  /** The recipient's zone, for local dates: the profile's, else the installation's, else the project's. */
  zone: string;
  displays: MessageDisplays;
  /** The owner's displays of any in-app message, at least as far back as the longest in_app rule's window. */
  recent: readonly CountedSend[];
  /** The project's enabled capping rules of scope in_app. */
  rules: readonly CappingRule[];
  /** false: the audience is not evaluated (the message's recheck is off and the sync already did). */
  evaluateAudience: boolean;
  now: number;
}

/** The instant of a bound for a recipient in `zone` (an unknown zone reads as UTC). */
export function resolveBound(b: DateBound, zone: string): number {
  if (b.kind === 'instant') return b.ms;
  return toInstant(isTimeZone(zone) ? zone : 'UTC', b.date, b.time, b.second).instant;
}

/** The first reason the message may not be shown now, in the order a caller can act on. */
export function eligibility(i: EligibilityInput): Eligibility {
  if (i.status === 'draft') return { show: false, reason: 'not_started' };
  if (i.status !== 'running') return { show: false, reason: 'stopped' };
  const { model, now } = i;
  if (model.startsAt && now < resolveBound(model.startsAt, i.zone)) return { show: false, reason: 'not_started' };
  if (model.endsAt && now >= resolveBound(model.endsAt, i.zone)) return { show: false, reason: 'ended' };
  if (i.evaluateAudience && i.audience && !matches(i.audience, i.subject, now)) return { show: false, reason: 'not_targeted' };
  return capped(i) ? { show: false, reason: 'capped' } : { show: true };
}

function capped(i: EligibilityInput): boolean {
  const c = i.model.definition.capping;
  if (c?.max_displays !== undefined && i.displays.count >= c.max_displays) return true;
  if (c?.min_interval_seconds !== undefined && i.displays.lastAt !== null && i.now < i.displays.lastAt + c.min_interval_seconds * 1000) return true;
  if (!i.rules.length) return false;
  // A display is one send on the in_app channel: decide.ts's sliding windows, without quiet hours
  // (a message the user is looking at the app for is not the interruption quiet hours prevent).
  const decision = decideCapping({
    rules: i.rules, history: i.recent, now: i.now, createdAt: i.now, quiet: null,
    send: { kind: 'campaign', labels: i.model.definition.labels, channels: ['in_app'] },
  });
  return decision.action !== 'send';
}

/** Higher priority first; equal priorities oldest message first (ids are uuidv7). */
export function byPriority(a: { id: string; priority: number }, b: { id: string; priority: number }): number {
  return b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Seconds until the SDK should sync again: the default, or sooner when a message starts or ends before. */
export const defaultSyncAfterSeconds = 300;
export function syncAfterSeconds(models: readonly InAppModel[], zone: string, now: number): number {
  let next = defaultSyncAfterSeconds;
  for (const m of models) {
    for (const b of [m.startsAt, m.endsAt]) {
      if (!b) continue;
      const at = resolveBound(b, zone);
      if (at > now) next = Math.min(next, Math.ceil((at - now) / 1000));
    }
  }
  // Never sooner than 10 s: a device polling faster would add load and nothing a user sees.
  return Math.max(10, next);
}
