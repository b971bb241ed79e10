/**
 * Decides one profile against a targeting query (query.ts), in memory: what an automation step or
 * an in-app display check asks just before it acts, and what a campaign asks of each recipient
 * just before the send. sql.ts answers the same question for millions of profiles at once; the
 * property test in store/targeting.test.ts holds the two to the same answer.
 */
import type { AttributeDocument, StoredValue } from '../profile-operations.js';
import type { Bound, Condition, NativeTargetingField, Query } from './query.js';
import { compareVersions, versionParts } from './versions.js';

const dayMs = 86_400_000;

/** What targeting may look at of one profile: loaded in bulk by the store, or by the caller. */
export interface TargetingSubject {
  native: Partial<Record<NativeTargetingField, string | null>>;
  attributes: AttributeDocument;
  events: readonly { name: string; time: number; attributes: Record<string, unknown> }[];
  installations: readonly { platform: string; pushToken: string | null; appVersion: string | null; sdkVersion: string | null }[];
  /** Ids of the custom audiences the profile belongs to. */
  audiences: ReadonlySet<string>;
}

/**
 * True when the profile matches. Saved segments must be expanded first (segments.ts#expandSegments):
 * an unexpanded `segment` node is a programming error.
 */
export function matches(query: Query, s: TargetingSubject, now: number): boolean {
  switch (query.kind) {
    case 'all': return query.of.every((q) => matches(q, s, now));
    case 'any': return query.of.some((q) => matches(q, s, now));
    case 'not': return !matches(query.of, s, now);
    case 'attribute': return holds(query.condition, s.attributes[query.name], now);
    case 'field': return holds(query.condition, s.native[query.name] ?? undefined, now);
    case 'audience': return s.audiences.has(query.id);
    case 'installation': {
      const c = query.conditions;
      return s.installations.some((i) =>
        (c.platform === undefined || holds(c.platform, i.platform, now)) &&
        (c.push_enabled === undefined || (i.pushToken !== null) === c.push_enabled) &&
        (c.app_version === undefined || holdsVersion(c.app_version, i.appVersion ?? undefined)) &&
        (c.sdk_version === undefined || holdsVersion(c.sdk_version, i.sdkVersion ?? undefined)));
    }
    case 'event': {
      const from = query.since === undefined ? -Infinity : query.since.kind === 'absolute' ? query.since.ms : now - query.since.days * dayMs;
      let n = 0;
      for (const e of s.events) {
        if (e.name === query.name && e.time >= from && query.where.every((w) => holds(w.condition, e.attributes[w.name] as StoredValue | undefined, now))) n++;
      }
      const { gte, lte } = query.count;
      return n >= (gte ?? (lte === undefined ? 1 : 0)) && (lte === undefined || n <= lte);
    }
    case 'segment':
      throw new Error(`segment ${query.id} was not expanded before evaluation`);
  }
}

/** A condition over one stored value (an attribute, a native field, an event attribute). */
function holds(c: Condition, v: unknown, now: number): boolean {
  if (v === undefined || v === null) return c.op === 'exists' && !c.value;
  switch (c.op) {
    case 'exists': return c.value;
    case 'eq': return v === c.value;
    case 'neq': return v !== c.value;
    case 'in': return c.values.some((x) => x === v);
    case 'contains': return Array.isArray(v) && v.includes(c.value);
    case 'contains_any': return Array.isArray(v) && c.values.some((x) => v.includes(x));
    case 'gt': return order(v, c.value) > 0;
    case 'gte': return order(v, c.value) >= 0;
    case 'lt': return order(v, c.value) < 0;
    case 'lte': return order(v, c.value) <= 0;
    case 'between': return order(v, c.low) >= 0 && order(v, c.high) <= 0;
    case 'within_last_days': { const t = dateOf(v); return t !== undefined && t >= now - c.days * dayMs && t <= now; }
    case 'more_than_days_ago': { const t = dateOf(v); return t !== undefined && t < now - c.days * dayMs; }
    case 'within_next_days': { const t = dateOf(v); return t !== undefined && t >= now && t <= now + c.days * dayMs; }
  }
}

/** Sign of v − bound, or NaN (every comparison false) when v is not of the bound's kind. */
function order(v: unknown, b: Bound): number {
  if (b.kind === 'number') return typeof v === 'number' ? Math.sign(v - b.value) : NaN;
  if (b.kind === 'date') { const t = dateOf(v); return t === undefined ? NaN : Math.sign(t - b.ms); }
  return NaN;
}

function dateOf(v: unknown): number | undefined {
  if (typeof v === 'object' && v !== null && '$date' in v && typeof v.$date === 'string') return Date.parse(v.$date);
  return undefined;
}

function holdsVersion(c: Condition, v: string | undefined): boolean {
  if (v === undefined) return c.op === 'exists' && !c.value;
  const cmp = (b: Bound): number => {
    const parts = versionParts(v);
    return b.kind === 'version' && parts.length > 0 ? Math.sign(compareVersions(parts, b.parts)) : NaN;
  };
  switch (c.op) {
    case 'gt': return cmp(c.value) > 0;
    case 'gte': return cmp(c.value) >= 0;
    case 'lt': return cmp(c.value) < 0;
    case 'lte': return cmp(c.value) <= 0;
    case 'between': return cmp(c.low) >= 0 && cmp(c.high) <= 0;
    default: return holds(c, v, 0);
  }
}
