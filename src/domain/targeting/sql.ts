/**
 * Compiles a targeting query (query.ts) into a boolean SQL expression over a `profiles` row
 * aliased `p`, for bulk selection and exact counts. Pure string building: every value, name and
 * instant is a numbered text parameter cast in SQL, never spliced in, so a query cannot inject.
 * "Now" is a parameter too (the caller's clock), so relative windows mean the same here as in
 * evaluate.ts. Each leaf is folded to true or false (`coalesce(…, false)`): SQL's NULL must not
 * reach a `not`, where it would stay NULL instead of becoming true as in memory.
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
 * `firstParam` is the number of the first placeholder this query may use (the caller's come
 * before it, e.g. `$1` for the project id).
 */
export function compileQuery(query: Query, now: number, firstParam = 1): CompiledQuery {
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
      case 'eq': return `coalesce(${v} = ${json(c.value)}, false)`;
      case 'neq': return `coalesce(${v} <> ${json(c.value)}, false)`;
      case 'in': return `coalesce(${v} in (select jsonb_array_elements(${json(c.values)})), false)`;
      case 'contains': return `coalesce(jsonb_typeof(${v}) = 'array' and ${v} ? ${param(c.value)}, false)`;
      case 'contains_any': return `coalesce(jsonb_typeof(${v}) = 'array' and ${v} ?| array(select jsonb_array_elements_text(${json(c.values)})), false)`;
      case 'gt': return compare(v, '>', c.value);
      case 'gte': return compare(v, '>=', c.value);
      case 'lt': return compare(v, '<', c.value);
      case 'lte': return compare(v, '<=', c.value);
      case 'between': return `(${compare(v, '>=', c.low)} and ${compare(v, '<=', c.high)})`;
      case 'within_last_days': return dateRange(v, now - c.days * dayMs, now);
      case 'more_than_days_ago': return `coalesce(${dateOf(v)} < ${isoText(now - c.days * dayMs)}, false)`;
      case 'within_next_days': return dateRange(v, now, now + c.days * dayMs);
    }
  };
  // The CASE guards the cast: a value of another type is false, never a cast error.
  const numberOf = (v: string) => `(case when jsonb_typeof(${v}) = 'number' then (${v})::numeric end)`;
  const dateOf = (v: string) => `((case when jsonb_typeof(${v} -> '$date') = 'string' then ${v} ->> '$date' end) collate "C")`;
  const compare = (v: string, op: string, b: Bound): string => {
    if (b.kind === 'number') return `coalesce(${numberOf(v)} ${op} ${param(String(b.value), 'numeric')}, false)`;
    if (b.kind === 'date') return `coalesce(${dateOf(v)} ${op} ${isoText(b.ms)}, false)`;
    return 'false';
  };
  const dateRange = (v: string, from: number, to: number) => `coalesce(${dateOf(v)} between ${isoText(from)} and ${isoText(to)}, false)`;

  /** A condition on a text column (a native field, a platform, an app version). */
  const onText = (c: Condition, col: string, version = false): string => {
    switch (c.op) {
      case 'exists': return c.value ? `${col} is not null` : `${col} is null`;
      case 'eq': return `coalesce(${col} = ${param(String(c.value))}, false)`;
      case 'neq': return `coalesce(${col} <> ${param(String(c.value))}, false)`;
      case 'in': return `coalesce(${col} in (select jsonb_array_elements_text(${json(c.values.map(String))})), false)`;
      default: {
        if (!version) return 'false';
        const parts = `herald_version_parts(${col})`;
        const v = (b: Bound) => (b.kind === 'version' ? param(`{${b.parts.join(',')}}`, 'numeric[]') : 'null');
        switch (c.op) {
          case 'gt': return `coalesce(${parts} > ${v(c.value)}, false)`;
          case 'gte': return `coalesce(${parts} >= ${v(c.value)}, false)`;
          case 'lt': return `coalesce(${parts} < ${v(c.value)}, false)`;
          case 'lte': return `coalesce(${parts} <= ${v(c.value)}, false)`;
          case 'between': return `coalesce(${parts} between ${v(c.low)} and ${v(c.high)}, false)`;
          default: return 'false';
        }
      }
    }
  };

  const compile = (q: Query): string => {
    switch (q.kind) {
      case 'all': return `(${q.of.map(compile).join(' and ')})`;
      case 'any': return `(${q.of.map(compile).join(' or ')})`;
      case 'not': return `(not ${compile(q.of)})`;
      case 'attribute': return onJson(q.condition, jsonValue('p.attributes', q.name));
      // The name is one of query.ts's fixed column names, never the caller's text.
      case 'field': return onText(q.condition, `p.${q.name}`);
      case 'audience':
        return `exists (select 1 from audience_members m where m.project_id = p.project_id and m.audience_id = ${param(q.id)} and m.custom_id = p.custom_id)`;
      case 'installation': {
        const c = q.conditions;
        const parts = ['i.project_id = p.project_id', 'i.custom_id = p.custom_id'];
        if (c.platform) parts.push(onText(c.platform, 'i.platform'));
        if (c.push_enabled !== undefined) parts.push(c.push_enabled ? 'i.push_token is not null' : 'i.push_token is null');
        if (c.app_version) parts.push(onText(c.app_version, 'i.app_version', true));
        if (c.sdk_version) parts.push(onText(c.sdk_version, 'i.sdk_version', true));
        return `exists (select 1 from installations i where ${parts.join(' and ')})`;
      }
      case 'event': {
        const parts = ['e.project_id = p.project_id', 'e.custom_id = p.custom_id', `e.name = ${param(q.name)}`];
        // No event is older than earliestEventTime, and PostgreSQL cannot read every instant
        // JavaScript can (year 0): an earlier bound means the same as that one.
        if (q.since) parts.push(`e.time >= ${instant(Math.max(earliestEventTime, q.since.kind === 'absolute' ? q.since.ms : now - q.since.days * dayMs))}`);
        for (const w of q.where) parts.push(onJson(w.condition, jsonValue('e.attributes', w.name)));
        const { gte, lte } = q.count;
        const least = gte ?? (lte === undefined ? 1 : 0);
        const from = `from events e where ${parts.join(' and ')}`;
        // "At least once" needs no count: exists stops at the first event (the common case).
        if (least === 1 && lte === undefined) return `exists (select 1 ${from})`;
        if (least === 0 && lte === 0) return `not exists (select 1 ${from})`;
        // Counting stops one past the largest number that matters.
        const cap = (lte ?? least - 1) + 1;
        const upper = lte === undefined ? '' : ` and count(*) <= ${param(String(lte), 'int')}`;
        return `(select count(*) >= ${param(String(least), 'int')}${upper} from (select 1 ${from} limit ${param(String(cap), 'int')}) counted)`;
      }
      case 'segment':
        throw new Error(`segment ${q.id} was not expanded before compilation`);
    }
  };
  return { sql: compile(query), params };
}
