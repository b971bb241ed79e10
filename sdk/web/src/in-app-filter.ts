/**
 * Whether a tracked event's attributes pass an event trigger's `where`: the automations' event
 * filter (the targeting language's event conditions, src/domain/targeting/query.ts), decided in the
 * page on the attributes as tracked, with the server's rules (src/domain/targeting/evaluate.ts):
 * two-valued, an absent or null value fails every condition but `exists: false`, order only between
 * numbers. An operator this SDK does not know fails: better not shown than shown to the wrong event.
 */
export function eventMatches(where: readonly Record<string, unknown>[] | undefined, attributes: Record<string, unknown> | undefined): boolean {
  return (where ?? []).every((c) => {
    const { attribute, ...rest } = c;
    const entries = Object.entries(rest);
    const [op, x] = entries[0] ?? [];
    return entries.length === 1 && typeof attribute === 'string' && holds(op ?? '', x, attributes?.[attribute]);
  });
}

function holds(op: string, x: unknown, v: unknown): boolean {
  if (v === undefined || v === null) return op === 'exists' && x === false;
  const num = typeof v === 'number';
  switch (op) {
    case 'exists': return x === true;
    case 'eq': return v === x;
    case 'neq': return v !== x;
    case 'in': return Array.isArray(x) && x.includes(v);
    case 'contains': return Array.isArray(v) && v.includes(x);
    case 'contains_any': return Array.isArray(v) && Array.isArray(x) && x.some((y) => v.includes(y));
    case 'gt': return num && typeof x === 'number' && v > x;
    case 'gte': return num && typeof x === 'number' && v >= x;
    case 'lt': return num && typeof x === 'number' && v < x;
    case 'lte': return num && typeof x === 'number' && v <= x;
    case 'between': return num && Array.isArray(x) && typeof x[0] === 'number' && typeof x[1] === 'number' && v >= x[0] && v <= x[1];
    default: return false;
  }
}
