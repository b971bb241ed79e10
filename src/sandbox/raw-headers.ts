/**
 * The raw header list every simulator records with a request, shared by apns.ts, fcm.ts and
 * webpush.ts.
 */
import type { IncomingHttpHeaders } from 'node:http2';

/**
 * A record keeps its request's header list, and most values repeat on every request of a connection
 * (a bearer token or VAPID authorization of a few hundred bytes, the topic, the authority): pointing
 * them all at one string per connection saves a few hundred bytes per record, which at a million
 * records is the difference between fitting in Node's default heap or not. Names in `uniquePerRequest`
 * (the path, ids) are left alone, and the table stops growing at a small size so a client varying
 * values costs nothing more.
 */
const maxInternedPerConnection = 64;

export function internValues(interned: Map<string, string>, rawHeaders: string[], uniquePerRequest: ReadonlySet<string> = new Set()): void {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (uniquePerRequest.has(rawHeaders[i]!)) continue;
    const value = rawHeaders[i + 1]!;
    const same = interned.get(value);
    if (same !== undefined) rawHeaders[i + 1] = same;
    else if (interned.size < maxInternedPerConnection) interned.set(value, value);
  }
}

/** The header object as a raw list, for a Node that does not pass one (then duplicates are already joined). */
export function flatten(headers: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
  }
  return out;
}
