/**
 * The sandbox's memory of what reached its simulators: one record per request, accepted or refused,
 * listed by the inspection API (docs/sandbox.md, GET /_sandbox/deliveries).
 *
 * Appending is on the hot path of every simulated request (benchmarks push 20,000+ requests/s), so a
 * record keeps what the simulator already has in hand (the raw header list, the body Buffer) and the
 * listing shapes it (header object, base64) only when someone asks.
 */
import { randomUUID } from 'node:crypto';

/** Channel names everywhere in the inspection API (docs/sandbox.md): Herald's channels, one
 *  simulator each (src/channels/registry.ts names each channel's simulator). */
import { channels, type Channel } from '../domain/channels.js';
export { channels, type Channel };

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (channels as readonly string[]).includes(value);
}

/**
 * What the simulator saw and answered. `status` is undefined while the answer is still being decided
 * (a fault's latency, a first token's verification): such records keep their place in arrival order
 * but are not listed yet (nor ever, if the client reset the stream before its body ended).
 * `status` null means no answer was given (a fault dropped the connection).
 */
export interface DeliveryRecord {
  /** Arrival number; the listed id is made from it (see createDeliveryRecords). */
  readonly seq: number;
  readonly channel: Channel;
  readonly receivedAtMs: number;
  readonly target: string;
  /** HTTP/2 header list as received: name, value, name, value… (names lower-case, pseudo-headers included). */
  readonly rawHeaders: readonly string[];
  body: Buffer | undefined;
  status: number | null | undefined;
  reason: string | null;
  /** Email: the delivery status notification a `dsn` fault made for this accepted message. */
  dsn?: Buffer | undefined;
}

/** The JSON shape of one record in GET /_sandbox/deliveries. */
export interface ListedRecord {
  id: string;
  channel: Channel;
  received_at: string;
  target: string;
  status: number | null;
  reason: string | null;
  headers: Record<string, string>;
  body_base64: string;
  /** Email, for a message a `dsn` fault accepted: the notification reporting its failure. */
  dsn_base64?: string;
}

export interface ListQuery {
  channel: Channel;
  target?: string | undefined;
  /** Exclusive lower bound on received_at, epoch ms. */
  sinceMs?: number | undefined;
  limit: number;
  includeRejected: boolean;
}

/** What the listing answers without `limit`, and the most it answers with one (docs/sandbox.md). */
export const defaultListLimit = 1000;
export const maxListLimit = 10_000;

/**
 * At most this many records are kept by default. Past it the oldest tenth is forgotten in one go
 * (one splice per 100,000 appends instead of a shift per append), so a long benchmark cannot
 * exhaust memory: a record costs about 600 bytes of heap with a small payload, so some 600 MB at
 * the cap, within Node's default heap limit.
 */
export const defaultMaxRecords = 1_000_000;

export interface DeliveryRecords {
  /** Starts a record in arrival order; the simulator fills `body`, `status` and `reason` when it answers. */
  open(channel: Channel, receivedAtMs: number, target: string, rawHeaders: readonly string[]): DeliveryRecord;
  list(q: ListQuery): ListedRecord[];
  /** Forgets every record, or those of one channel. */
  clear(channel?: Channel): void;
  readonly size: number;
}

export function createDeliveryRecords(maxRecords = defaultMaxRecords): DeliveryRecords {
  let records: DeliveryRecord[] = [];
  const dropAtOnce = Math.max(1, Math.floor(maxRecords / 10));
  // Record ids are UUID-shaped: a random prefix per sandbox and the arrival number in the last
  // group, rendered at listing time. A randomUUID() per record would cost ~500 bytes of heap each
  // (Node builds it as a tree of concatenated strings), half of what a record costs otherwise.
  const idPrefix = randomUUID().slice(0, 24);
  let seq = 0;
  const idOf = (r: DeliveryRecord) => idPrefix + r.seq.toString(16).padStart(12, '0');

  return {
    open(channel, receivedAtMs, target, rawHeaders) {
      const r: DeliveryRecord = {
        seq: seq++, channel, receivedAtMs, target, rawHeaders, body: undefined, status: undefined, reason: null,
      };
      if (records.length >= maxRecords) records.splice(0, dropAtOnce);
      // Kept in order of received_at, which the listing and its `since` page by: FCM and SMS open a
      // record once the body is read, so a request whose body took longer comes after later ones.
      // Such a record moves back the few places it is late by; appends stay O(1) otherwise.
      let at = records.length;
      while (at > 0 && records[at - 1]!.receivedAtMs > receivedAtMs) at--;
      if (at === records.length) records.push(r);
      else records.splice(at, 0, r);
      return r;
    },
    list(q) {
      const out: ListedRecord[] = [];
      for (const r of records) {
        if (out.length >= q.limit) break;
        if (r.status === undefined || r.channel !== q.channel) continue;
        if (q.target !== undefined && r.target !== q.target) continue;
        if (q.sinceMs !== undefined && r.receivedAtMs <= q.sinceMs) continue;
        if (!q.includeRejected && !isAccepted(r)) continue;
        out.push(listed(r, idOf(r)));
      }
      return out;
    },
    clear(channel) {
      records = channel === undefined ? [] : records.filter((r) => r.channel !== channel);
    },
    get size() {
      return records.length;
    },
  };
}

/** Accepted means the simulator answered success: 2xx for the HTTP services (APNs 200, Web Push 201). */
function isAccepted(r: DeliveryRecord): boolean {
  return typeof r.status === 'number' && r.status >= 200 && r.status < 300;
}

function listed(r: DeliveryRecord, id: string): ListedRecord {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    // A repeated header (which APNs refuses with DuplicateHeaders) shows its values joined, as HTTP does.
    headers[name] = name in headers ? `${headers[name]}, ${r.rawHeaders[i + 1]!}` : r.rawHeaders[i + 1]!;
  }
  return {
    id,
    channel: r.channel,
    received_at: new Date(r.receivedAtMs).toISOString(),
    target: r.target,
    status: r.status ?? null,
    reason: r.reason,
    headers,
    body_base64: r.body ? r.body.toString('base64') : '',
    ...(r.dsn ? { dsn_base64: r.dsn.toString('base64') } : {}),
  };
}
