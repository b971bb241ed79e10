/**
 * Input PostgreSQL can store as it was given. PostgreSQL stores no U+0000 in text or jsonb (text
 * is NUL-terminated in the server; jsonb refuses \u0000: https://www.postgresql.org/docs/current/datatype-json.html),
 * and UTF-8 has no form for an unpaired surrogate (RFC 3629 §3), so jsonb refuses one too. Such
 * text fails the statement that stores it: a 500 instead of a 400, repeated at every retry of the
 * client. A JSON number too large for a double (1e309) parses as Infinity, which JSON.stringify
 * writes as null: stored, it would silently be another value. Pure.
 */

/** U+0000, or a surrogate that is not half of a pair. */
const unstorableText = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** The same in JSON.stringify's output, which escapes exactly these (an escape not itself escaped). */
const unstorableJsonText = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/;

export function isStorableText(text: string): boolean {
  return !unstorableText.test(text);
}

/** Whether JSON.stringify's output holds text PostgreSQL cannot store. */
export function jsonHasUnstorableText(json: string): boolean {
  return json.includes('\\u') && unstorableJsonText.test(json);
}

/**
 * Nesting deeper than this is refused: no Herald document nests more than a few levels, and walking
 * (or JSON.stringify-ing) a 1 MiB body of nested arrays would exhaust the stack.
 */
export const maxJsonDepth = 64;

/** Why a value cannot be stored: `field` is its path (`push.data.k`, `[3].attributes`), '' for the whole value. */
export interface Unstorable {
  field: string;
  /** Says what is wrong, never quotes the value. */
  problem: string;
}

interface Node {
  value: unknown;
  depth: number;
  parent: Node | undefined;
  /** The key (object) or index (array) under the parent. */
  key: string | number | undefined;
}

function pathOf(n: Node | undefined): string {
  let path = '';
  for (let at = n; at?.parent; at = at.parent) {
    const k = at.key!;
    const sep = path && path[0] !== '[' ? '.' : '';
    path = (typeof k === 'number' ? `[${k}]` : k) + sep + path;
  }
  return path;
}

/** An object of data: Object's own prototype, none, or one without prototype (as Fastify's params); not a class instance. */
const isPlain = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
};

/**
 * The first part of a parsed JSON value (strings, object keys, numbers; arrays and plain objects
 * walked, anything else such as a stream left alone) that cannot be stored as it is, in document
 * order; undefined when all of it can. Iterative, so no input exhausts the stack.
 */
export function findUnstorable(value: unknown): Unstorable | undefined {
  const stack: Node[] = [{ value, depth: 0, parent: undefined, key: undefined }];
  while (stack.length) {
    const n = stack.pop()!;
    const v = n.value;
    if (typeof v === 'string') {
      if (!isStorableText(v)) return { field: pathOf(n), problem: 'must not contain U+0000 or an unpaired surrogate' };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { field: pathOf(n), problem: 'must be a finite number (this one overflows a double)' };
    } else if (typeof v === 'object' && v !== null && (Array.isArray(v) || isPlain(v))) {
      if (n.depth >= maxJsonDepth) return { field: pathOf(n), problem: `nests more than ${maxJsonDepth} levels of arrays and objects` };
      const children: Node[] = [];
      if (Array.isArray(v)) {
        v.forEach((item, i) => children.push({ value: item, depth: n.depth + 1, parent: n, key: i }));
      } else {
        for (const [key, item] of Object.entries(v)) {
          // The key itself is not named: it is the text that cannot be shown or stored.
          if (!isStorableText(key)) return { field: pathOf(n), problem: 'has a key that contains U+0000 or an unpaired surrogate' };
          children.push({ value: item, depth: n.depth + 1, parent: n, key });
        }
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
  }
  return undefined;
}
