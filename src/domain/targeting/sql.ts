/**
 * Compiles a targeting query (query.ts) into a boolean SQL expression over a `profiles` row
 * aliased `p`, for bulk selection and exact counts. Pure string building: every value, name and
 * instant is a numbered text parameter cast in SQL, never spliced in, so a query cannot inject.
 * "Now" is a parameter too (the caller's clock), so relative windows mean the same here as in
 * evaluate.ts.
 *
 * Two-valued logic without coalesce(): a leaf's SQL is NULL where the evaluator says false (a
 * missing attribute, a value of another type). Where no `not` is above it, NULL acts as false:
 * `and` and `or` over NULL give NULL or the same answer as over false, and a WHERE clause keeps
 * only true rows. So `not` is pushed down to the leaves (De Morgan; `not exists` for a
 * subquery), and only a negated leaf is folded, with `is not true`, which is never NULL.
 * Positive tests keep the plain shapes the planner can estimate from its statistics and match to
 * indexes (`i.platform = $1`, not `coalesce(i.platform = $1, false)`, which it guesses at half
 * the rows). https://www.postgresql.org/docs/current/functions-logical.html,
 * https://www.postgresql.org/docs/current/functions-comparison.html (IS NOT TRUE).
 *
 * The expression is for a WHERE clause (or a subquery's) only: as a value it may be NULL.
 *
 * The tables it reads: profiles (native columns, `attributes` jsonb), events (by custom_id),
 * installations (by custom_id), audience_members; and the function herald_version_parts
 * (migration 0015).
 */
import { earliestEventTime } from '../profile-operations.js';
import type { Bound, Condition, Query } from './query.js';

const dayMs = 86_400_000;

export interface CompiledQuery {
  /** A boolean expression; `$n` placeholders start after the caller's own. */
  sql: string;
  params: string[];
}

/**
 * A range of the outer query's profiles (SQL expressions, e.g. the caller's placeholders): every
 * subquery names the project and the custom_id range itself, so each reads its table by index for
 * that range alone. PostgreSQL carries the outer row's equalities into a join, never its ranges,
 * and not even the equalities into a subplan hashed under an `or`, which then reads its whole
 * table. Redundant with `x.custom_id = p.custom_id`, so it never changes the answer.
 */
export interface KeyRange {
  project: string;
  /** custom_id > after, when given */
  after?: string;
  /** custom_id <= upTo, when given */
  upTo?: string;
}

/**
 * `firstParam` is the number of the first placeholder this query may use (the caller's come
 * before it, e.g. `$1` for the project id).
 */
export function compileQuery(query: Query, now: number, firstParam = 1, range?: KeyRange): CompiledQuery {
  const params: string[] = [];
  const param = (value: string, cast = 'text'): string => {
    params.push(value);
    return `$${firstParam + params.length - 1}::${cast}`;
  };
  const instant = (ms: number) => param(new Date(ms).toISOString(), 'timestamptz');
  // Stored dates are Date#toISOString() text (profile-operations.ts): one fixed width for years
  // 0000 to 9999, so byte order is time order. Comparing that text (collation "C": byte order)
  // needs no cast, and a cast could fail: PostgreSQL has no year 0, JavaScript does.
  const isoText = (ms: number) => `(${param(new Date(ms).toISOString())} collate "C")`;
  // Text cast to jsonb in SQL: a parameter typed jsonb would be JSON-encoded once more by the driver.
  const json = (v: unknown) => `${param(JSON.stringify(v))}::jsonb`;

  // JSON null is no value, as in memory (evaluate.ts); `->` gives SQL NULL for a missing key.
  const jsonValue = (doc: string, name: string) => `nullif(${doc} -> ${param(name)}, 'null'::jsonb)`;

  /** A condition on a jsonb value (an attribute, an event attribute). */
  const onJson = (c: Condition, v: string): string => {
    switch (c.op) {
      case 'exists': return c.value ? `${v} is not null` : `${v} is null`;
      case 'eq': return `${v} = ${json(c.value)}`;
      case 'neq': return `${v} <> ${json(c.value)}`;
      case 'in': return `${v} in (select jsonb_array_elements(${json(c.values)}))`;
      case 'contains': return `(jsonb_typeof(${v}) = 'array' and ${v} ? ${param(c.value)})`;
      case 'contains_any': return `(jsonb_typeof(${v}) = 'array' and ${v} ?| array(select jsonb_array_elements_text(${json(c.values)})))`;
      case 'gt': return compare(v, '>', c.value);
      case 'gte': return compare(v, '>=', c.value);
      case 'lt': return compare(v, '<', c.value);
      case 'lte': return compare(v, '<=', c.value);
      case 'between': return `(${compare(v, '>=', c.low)} and ${compare(v, '<=', c.high)})`;
      case 'within_last_days': return dateRange(v, now - c.days * dayMs, now);
      case 'more_than_days_ago': return `${dateOf(v)} < ${isoText(now - c.days * dayMs)}`;
      case 'within_next_days': return dateRange(v, now, now + c.days * dayMs);
    }
  };
  // The CASE guards the cast: a value of another type is false, never a cast error.
  const numberOf = (v: string) => `(case when jsonb_typeof(${v}) = 'number' then (${v})::numeric end)`;
  const dateOf = (v: string) => `((case when jsonb_typeof(${v} -> '$date') = 'string' then ${v} ->> '$date' end) collate "C")`;
  const compare = (v: string, op: string, b: Bound): string => {
    if (b.kind === 'number') return `${numberOf(v)} ${op} ${param(String(b.value), 'numeric')}`;
    if (b.kind === 'date') return `${dateOf(v)} ${op} ${isoText(b.ms)}`;
    return 'false';
  };
  const dateRange = (v: string, from: number, to: number) => `${dateOf(v)} between ${isoText(from)} and ${isoText(to)}`;

  /** A condition on a text column (a native field, a platform, an app version). */
  const onText = (c: Condition, col: string, version = false): string => {
    switch (c.op) {
      case 'exists': return c.value ? `${col} is not null` : `${col} is null`;
      case 'eq': return `${col} = ${param(String(c.value))}`;
      case 'neq': return `${col} <> ${param(String(c.value))}`;
      case 'in': return `${col} in (select jsonb_array_elements_text(${json(c.values.map(String))}))`;
      default: {
        if (!version) return 'false';
        const parts = `herald_version_parts(${col})`;
        const v = (b: Bound) => (b.kind === 'version' ? param(`{${b.parts.join(',')}}`, 'numeric[]') : 'null');
        switch (c.op) {
          case 'gt': return `${parts} > ${v(c.value)}`;
          case 'gte': return `${parts} >= ${v(c.value)}`;
          case 'lt': return `${parts} < ${v(c.value)}`;
          case 'lte': return `${parts} <= ${v(c.value)}`;
          case 'between': return `${parts} between ${v(c.low)} and ${v(c.high)}`;
          default: return 'false';
        }
      }
    }
  };

  /** A subquery's own project and key conditions, over its alias `t`. */
  const scope = (t: string): string[] => range
    ? [`${t}.project_id = ${range.project}`, `${t}.custom_id = p.custom_id`, ...(range.after ? [`${t}.custom_id > ${range.after}`] : []), ...(range.upTo ? [`${t}.custom_id <= ${range.upTo}`] : [])]
    : [`${t}.project_id = p.project_id`, `${t}.custom_id = p.custom_id`];

  /** `q`, or its negation when `negated`: a `not` is pushed down to the leaves (see above). */
  const compile = (q: Query, negated = false): string => {
    // A leaf may be NULL: its negation must be folded. exists() and a count never are NULL.
    const leaf = (test: string) => (negated ? `((${test}) is not true)` : test);
    const sub = (test: string) => (negated ? `(not ${test})` : test);
    const each = (of: Query[], join: string) => `(${of.map((x) => compile(x, negated)).join(join)})`;
    switch (q.kind) {
      case 'all': return each(q.of, negated ? ' or ' : ' and ');
      case 'any': return each(q.of, negated ? ' and ' : ' or ');
      case 'not': return compile(q.of, !negated);
      case 'attribute': return leaf(onJson(q.condition, jsonValue('p.attributes', q.name)));
      // The name is one of query.ts's fixed column names, never the caller's text.
      case 'field': return leaf(onText(q.condition, `p.${q.name}`));
      case 'audience':
        return sub(`exists (select 1 from audience_members m where ${[...scope('m'), `m.audience_id = ${param(q.id)}`].join(' and ')})`);
      case 'installation': {
        const c = q.conditions;
        const parts = scope('i');
        if (c.platform) parts.push(onText(c.platform, 'i.platform'));
        if (c.push_enabled !== undefined) parts.push(c.push_enabled ? 'i.push_token is not null' : 'i.push_token is null');
        if (c.app_version) parts.push(onText(c.app_version, 'i.app_version', true));
        if (c.sdk_version) parts.push(onText(c.sdk_version, 'i.sdk_version', true));
        return sub(`exists (select 1 from installations i where ${parts.join(' and ')})`);
      }
      case 'event': {
        const parts = [...scope('e'), `e.name = ${param(q.name)}`];
        // No event is older than earliestEventTime, and PostgreSQL cannot read every instant
        // JavaScript can (year 0): an earlier bound means the same as that one.
        if (q.since) parts.push(`e.time >= ${instant(Math.max(earliestEventTime, q.since.kind === 'absolute' ? q.since.ms : now - q.since.days * dayMs))}`);
        for (const w of q.where) parts.push(onJson(w.condition, jsonValue('e.attributes', w.name)));
        const { gte, lte } = q.count;
        const least = gte ?? (lte === undefined ? 1 : 0);
        const from = `from events e where ${parts.join(' and ')}`;
        // "At least once" needs no count: exists stops at the first event (the common case).
        if (least === 1 && lte === undefined) return sub(`exists (select 1 ${from})`);
        if (least === 0 && lte === 0) return negated ? `exists (select 1 ${from})` : `(not exists (select 1 ${from}))`;
        // Counting stops one past the largest number that matters.
        const cap = (lte ?? least - 1) + 1;
        const upper = lte === undefined ? '' : ` and count(*) <= ${param(String(lte), 'int')}`;
        return sub(`(select count(*) >= ${param(String(least), 'int')}${upper} from (select 1 ${from} limit ${param(String(cap), 'int')}) counted)`);
      }
      case 'segment':
        throw new Error(`segment ${q.id} was not expanded before compilation`);
    }
  };
  return { sql: compile(query), params };
}
