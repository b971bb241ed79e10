/**
 * Saved segments inside a query: `{ "segment": id }` stands for that segment's own query. Both
 * the evaluator and the SQL compiler see the expanded tree, so a segment means the same wherever
 * it is used, and a change to it reaches every campaign that names it.
 */
import { QueryError, queryLimits, type Query } from './query.js';

/**
 * Replaces every segment node by its saved query, recursively. `lookup` answers a segment's query
 * (undefined when no such segment exists in the project). Refuses a missing segment, a segment
 * that contains itself, and an expansion past the query size limit, naming the node's path.
 */
export function expandSegments(query: Query, lookup: (id: string) => Query | undefined, path = 'query'): Query {
  let nodes = 0;
  const expand = (q: Query, at: string, within: readonly string[]): Query => {
    if (++nodes > queryLimits.nodes * 4) throw new QueryError(at, `expands to more than ${queryLimits.nodes * 4} nodes`);
    switch (q.kind) {
      case 'all':
      case 'any':
        return { kind: q.kind, of: q.of.map((x, i) => expand(x, `${at}.${q.kind}[${i}]`, within)) };
      case 'not':
        return { kind: 'not', of: expand(q.of, `${at}.not`, within) };
      case 'segment': {
        if (within.includes(q.id)) throw new QueryError(`${at}.segment`, 'names a segment that contains itself');
        const saved = lookup(q.id);
        if (saved === undefined) throw new QueryError(`${at}.segment`, 'names no segment of this project');
        return expand(saved, `${at}.segment`, [...within, q.id]);
      }
      default:
        return q;
    }
  };
  return expand(query, path, []);
}

/** The ids of the segments a query names directly (to load them before expanding). */
export function segmentIds(query: Query): string[] {
  const ids = new Set<string>();
  const walk = (q: Query): void => {
    if (q.kind === 'segment') ids.add(q.id);
    else if (q.kind === 'all' || q.kind === 'any') q.of.forEach(walk);
    else if (q.kind === 'not') walk(q.of);
  };
  walk(query);
  return [...ids];
}
