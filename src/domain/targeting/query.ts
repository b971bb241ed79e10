/**
 * The targeting language: one JSON query that says who a campaign, a segment, an automation or an
 * in-app message is for. This file is its grammar: the typed tree and the parser that turns
 * untrusted JSON into it, naming the path of the first bad node. evaluate.ts decides one profile
 * against a tree; sql.ts compiles the same tree into a WHERE clause for bulk selection; a property
 * test holds the two to the same answer. docs/campaigns.md shows it with examples.
 *
 *   { "all": [
 *       { "field": "language", "in": ["fr"] },
 *       { "attribute": "tier", "eq": "gold" },
 *       { "event": "purchase", "within_days": 30 },
 *       { "installation": { "platform": { "eq": "ios" }, "push_enabled": true } },
 *       { "not": { "audience": "0190…" } } ] }
 *
 * Two-valued logic: a condition on a value that is absent, or of another type, is false (so
 * `neq` means "has a value, and not this one", and `not` turns any false into true). SQL's NULLs
 * are folded into false at every leaf so that `not` means the same in both places.
 */

import { versionParts } from './versions.js';

/** A JSON value a condition compares with. */
export type Scalar = string | number | boolean;

/** One comparison; exactly one operator per condition. */
export type Condition =
  | { op: 'eq' | 'neq'; value: Scalar }
  | { op: 'in'; values: Scalar[] }
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; value: Bound }
  | { op: 'between'; low: Bound; high: Bound }
  | { op: 'exists'; value: boolean }
  | { op: 'contains'; value: string }
  | { op: 'contains_any'; values: string[] }
  /** Date attributes relative to now: in the last N days, more than N days ago, in the next N days. */
  | { op: 'within_last_days' | 'more_than_days_ago' | 'within_next_days'; days: number };

/**
 * A range bound: a number, an instant (epoch milliseconds) parsed from ISO-8601, or an app version
 * (its dotted numbers, compared part by part: versions.ts).
 */
export type Bound = { kind: 'number'; value: number } | { kind: 'date'; ms: number } | { kind: 'version'; parts: number[] };

export const nativeTargetingFields = ['language', 'region', 'timezone', 'email', 'phone', 'email_subscription', 'sms_subscription'] as const;
export type NativeTargetingField = (typeof nativeTargetingFields)[number];

export interface EventCount {
  gte?: number | undefined;
  lte?: number | undefined;
}

export interface InstallationConditions {
  platform?: Condition | undefined;
  push_enabled?: boolean | undefined;
  app_version?: Condition | undefined;
  /** The Herald SDK's version on the installation, ordered as app versions are. */
  sdk_version?: Condition | undefined;
}

export type Query =
  | { kind: 'all'; of: Query[] }
  | { kind: 'any'; of: Query[] }
  | { kind: 'not'; of: Query }
  | { kind: 'attribute'; name: string; condition: Condition }
  | { kind: 'field'; name: NativeTargetingField; condition: Condition }
  | {
      kind: 'event';
      name: string;
      /** Counted events: at least `gte` (1 when neither bound is given) and at most `lte`. */
      count: EventCount;
      /** Only events at or after this instant (absolute `since`), or within the last N days. */
      since?: { kind: 'absolute'; ms: number } | { kind: 'relative'; days: number } | undefined;
      where: { name: string; condition: Condition }[];
    }
  | { kind: 'installation'; conditions: InstallationConditions }
  | { kind: 'audience'; id: string }
  | { kind: 'segment'; id: string };

export const queryLimits = {
  /** Nodes in one query, saved segments expanded: bounds the SQL a query compiles to. */
  nodes: 200,
  depth: 12,
  inValues: 1000,
  days: 36_500,
  countMax: 1_000_000,
  idLength: 64,
} as const;

/** A bad query: `path` names the node (`query.all[2].in[4]`), never echoes its value. */
export class QueryError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path} ${reason}`);
  }
}

const namePattern = /^[a-z0-9_]{1,30}$/;
const isoDateTime = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;
const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
const versionPattern = /^\d{1,9}(\.\d{1,9}){0,5}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const conditionOps = ['eq', 'neq', 'in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists', 'contains', 'contains_any', 'within_last_days', 'more_than_days_ago', 'within_next_days'] as const;
type ConditionOp = (typeof conditionOps)[number];
const isConditionOp = (k: string): k is ConditionOp => (conditionOps as readonly string[]).includes(k);

const leafKinds = ['all', 'any', 'not', 'attribute', 'field', 'event', 'installation', 'audience', 'segment'] as const;

/** Parses an untrusted query; throws a QueryError naming the first bad node. */
export function parseQuery(input: unknown, path = 'query'): Query {
  const counter = { nodes: 0 };
  return node(input, path, 1, counter);
}

function node(v: unknown, path: string, depth: number, counter: { nodes: number }): Query {
  if (!isObject(v)) throw new QueryError(path, 'must be an object');
  if (depth > queryLimits.depth) throw new QueryError(path, `nests deeper than ${queryLimits.depth} levels`);
  if (++counter.nodes > queryLimits.nodes) throw new QueryError(path, `makes the query longer than ${queryLimits.nodes} nodes`);
  const kind = leafKinds.find((k) => k in v);
  if (!kind) throw new QueryError(path, `must have one of ${leafKinds.map((k) => `"${k}"`).join(', ')}`);
  switch (kind) {
    case 'all':
    case 'any': {
      only(v, [kind], path);
      const list = v[kind];
      if (!Array.isArray(list) || list.length === 0) throw new QueryError(`${path}.${kind}`, 'must be a non-empty array of queries');
      return { kind, of: list.map((q, i) => node(q, `${path}.${kind}[${i}]`, depth + 1, counter)) };
    }
    case 'not':
      only(v, ['not'], path);
      return { kind: 'not', of: node(v.not, `${path}.not`, depth + 1, counter) };
    case 'attribute': {
      const name = identifier(v.attribute, `${path}.attribute`);
      return { kind: 'attribute', name, condition: condition(v, ['attribute'], path, 'attribute') };
    }
    case 'field': {
      const name = v.field;
      if (typeof name !== 'string' || !(nativeTargetingFields as readonly string[]).includes(name)) {
        throw new QueryError(`${path}.field`, `must be one of ${nativeTargetingFields.join(', ')}`);
      }
      return { kind: 'field', name: name as NativeTargetingField, condition: condition(v, ['field'], path, 'text') };
    }
    case 'event':
      return event(v, path);
    case 'installation': {
      only(v, ['installation'], path);
      return { kind: 'installation', conditions: installation(v.installation, `${path}.installation`) };
    }
    case 'audience':
    case 'segment': {
      only(v, [kind], path);
      const id = v[kind];
      if (typeof id !== 'string' || !idPattern.test(id)) throw new QueryError(`${path}.${kind}`, `must be an id of at most ${queryLimits.idLength} characters [A-Za-z0-9_-]`);
      return { kind, id };
    }
  }
}

function only(v: Record<string, unknown>, allowed: string[], path: string): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new QueryError(`${path}.${k}`, 'is not allowed here');
}

function identifier(v: unknown, path: string): string {
  if (typeof v !== 'string' || !namePattern.test(v)) throw new QueryError(path, 'must be a name of 1 to 30 characters [a-z0-9_]');
  return v;
}

/** What a condition applies to decides which operators make sense. */
type Subject = 'attribute' | 'text' | 'event_attribute' | 'version';

const allowedOps: Record<Subject, readonly ConditionOp[]> = {
  attribute: conditionOps,
  text: ['eq', 'neq', 'in', 'exists'],
  event_attribute: ['eq', 'neq', 'in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists', 'contains', 'contains_any'],
  version: ['eq', 'neq', 'in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists'],
};

/** The one operator key of `v` besides `besides`, and its operand. */
function condition(v: Record<string, unknown>, besides: string[], path: string, subject: Subject): Condition {
  const ops = Object.keys(v).filter((k) => !besides.includes(k));
  const unknown = ops.find((k) => !isConditionOp(k));
  if (unknown !== undefined) throw new QueryError(`${path}.${unknown}`, 'is not an operator');
  if (ops.length !== 1) throw new QueryError(path, `must have exactly one operator (${allowedOps[subject].join(', ')})`);
  const op = ops[0] as ConditionOp;
  if (!allowedOps[subject].includes(op)) throw new QueryError(`${path}.${op}`, `cannot apply here (allowed: ${allowedOps[subject].join(', ')})`);
  return operand(op, v[op], `${path}.${op}`, subject);
}

function operand(op: ConditionOp, v: unknown, path: string, subject: Subject): Condition {
  const textOnly = subject === 'text' || subject === 'version';
  switch (op) {
    case 'eq':
    case 'neq':
      return { op, value: textOnly ? text(v, path) : scalar(v, path) };
    case 'in': {
      if (!Array.isArray(v) || v.length === 0 || v.length > queryLimits.inValues) throw new QueryError(path, `must be an array of 1 to ${queryLimits.inValues} values`);
      return { op, values: v.map((x, i) => (textOnly ? text(x, `${path}[${i}]`) : scalar(x, `${path}[${i}]`))) };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return { op, value: bound(v, path, subject) };
    case 'between': {
      if (!Array.isArray(v) || v.length !== 2) throw new QueryError(path, 'must be an array of two bounds [low, high]');
      const low = bound(v[0], `${path}[0]`, subject);
      const high = bound(v[1], `${path}[1]`, subject);
      if (low.kind !== high.kind) throw new QueryError(path, 'must have two bounds of one kind (two numbers or two dates)');
      return { op, low, high };
    }
    case 'exists':
      if (typeof v !== 'boolean') throw new QueryError(path, 'must be true or false');
      return { op, value: v };
    case 'contains':
      return { op, value: text(v, path) };
    case 'contains_any': {
      if (!Array.isArray(v) || v.length === 0 || v.length > queryLimits.inValues) throw new QueryError(path, `must be an array of 1 to ${queryLimits.inValues} strings`);
      return { op, values: v.map((x, i) => text(x, `${path}[${i}]`)) };
    }
    case 'within_last_days':
    case 'more_than_days_ago':
    case 'within_next_days':
      return { op, days: days(v, path) };
  }
}

function scalar(v: unknown, path: string): Scalar {
  if (typeof v === 'string') return text(v, path);
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return v;
  throw new QueryError(path, 'must be a string, a finite number or a boolean');
}

function text(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length > 2048) throw new QueryError(path, 'must be a string of at most 2048 characters');
  return v;
}

function bound(v: unknown, path: string, subject: Subject): Bound {
  if (subject === 'version') {
    if (typeof v !== 'string' || !versionPattern.test(v)) throw new QueryError(path, 'must be a version such as "4.2" or "4.2.1"');
    return { kind: 'version', parts: versionParts(v) };
  }
  if (typeof v === 'number' && Number.isFinite(v)) return { kind: 'number', value: v };
  // Event attributes are free JSON: their dates are plain strings, so only numbers order there.
  if (subject === 'attribute' && typeof v === 'string') {
    const ms = isoDateTime.test(v) ? Date.parse(v) : NaN;
    if (!Number.isNaN(ms)) return { kind: 'date', ms };
  }
  throw new QueryError(path, subject === 'attribute' ? 'must be a number or an ISO-8601 date' : 'must be a number');
}

function days(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > queryLimits.days) throw new QueryError(path, `must be a whole number of days from 1 to ${queryLimits.days}`);
  return v;
}

function event(v: Record<string, unknown>, path: string): Query {
  only(v, ['event', 'count', 'within_days', 'since', 'where'], path);
  const name = identifier(v.event, `${path}.event`);
  const count: EventCount = {};
  if (v.count !== undefined) {
    if (!isObject(v.count)) throw new QueryError(`${path}.count`, 'must be an object such as {"gte": 2} or {"lte": 0}');
    only(v.count, ['gte', 'lte'], `${path}.count`);
    for (const k of ['gte', 'lte'] as const) {
      const n = v.count[k];
      if (n === undefined) continue;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > queryLimits.countMax) throw new QueryError(`${path}.count.${k}`, `must be a whole number from 0 to ${queryLimits.countMax}`);
      count[k] = n;
    }
    if (count.gte === undefined && count.lte === undefined) throw new QueryError(`${path}.count`, 'must have "gte" or "lte"');
  }
  if (v.within_days !== undefined && v.since !== undefined) throw new QueryError(`${path}.since`, 'cannot be given with "within_days"');
  let since: { kind: 'absolute'; ms: number } | { kind: 'relative'; days: number } | undefined;
  if (v.within_days !== undefined) since = { kind: 'relative', days: days(v.within_days, `${path}.within_days`) };
  if (v.since !== undefined) {
    const ms = typeof v.since === 'string' && isoDateTime.test(v.since) ? Date.parse(v.since) : NaN;
    if (Number.isNaN(ms)) throw new QueryError(`${path}.since`, 'must be an ISO-8601 date-time such as 2024-05-01T00:00:00Z');
    since = { kind: 'absolute', ms };
  }
  const where: { name: string; condition: Condition }[] = [];
  if (v.where !== undefined) {
    if (!Array.isArray(v.where) || v.where.length > 10) throw new QueryError(`${path}.where`, 'must be an array of at most 10 conditions on event attributes');
    v.where.forEach((w, i) => {
      const p = `${path}.where[${i}]`;
      if (!isObject(w)) throw new QueryError(p, 'must be an object such as {"attribute": "amount", "gte": 10}');
      where.push({ name: identifier(w.attribute, `${p}.attribute`), condition: condition(w, ['attribute'], p, 'event_attribute') });
    });
  }
  return { kind: 'event', name, count, since, where };
}

function installation(v: unknown, path: string): InstallationConditions {
  if (!isObject(v)) throw new QueryError(path, 'must be an object such as {"platform": {"eq": "ios"}, "push_enabled": true}');
  only(v, ['platform', 'push_enabled', 'app_version', 'sdk_version'], path);
  const out: InstallationConditions = {};
  if (v.platform !== undefined) {
    if (!isObject(v.platform)) throw new QueryError(`${path}.platform`, 'must be a condition such as {"in": ["ios", "android"]}');
    out.platform = condition(v.platform, [], `${path}.platform`, 'text');
  }
  if (v.push_enabled !== undefined) {
    if (typeof v.push_enabled !== 'boolean') throw new QueryError(`${path}.push_enabled`, 'must be true or false');
    out.push_enabled = v.push_enabled;
  }
  if (v.app_version !== undefined) {
    if (!isObject(v.app_version)) throw new QueryError(`${path}.app_version`, 'must be a condition such as {"gte": "4.2"}');
    out.app_version = condition(v.app_version, [], `${path}.app_version`, 'version');
  }
  if (v.sdk_version !== undefined) {
    if (!isObject(v.sdk_version)) throw new QueryError(`${path}.sdk_version`, 'must be a condition such as {"gte": "1.4"}');
    out.sdk_version = condition(v.sdk_version, [], `${path}.sdk_version`, 'version');
  }
  return out;
}
