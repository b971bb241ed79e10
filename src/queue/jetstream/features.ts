/**
 * What the connected nats-server can do, from the version in its INFO (`nc.info.version`). Herald
 * never sends a field the server is too old for: an old server either refuses it or, worse, drops
 * it silently, so every start would see a config drift and "update" it again.
 *
 * Used when present:
 * - 2.9.0 (the floor, and 2.9.10 is what this machine runs and the tests check): the consumer
 *   create API nats.js uses (`CONSUMER.CREATE.<stream>.<name>.<filter>`), and pull requests that
 *   combine `no_wait` with `expires` (since 2.7: wait up to `expires` for the first message, then
 *   return what is there and end with a status instead of holding the request open). Newer servers
 *   end a plain `no_wait` with 404 rather than 408 (nats.c PR #927); pull.ts takes either.
 * - 2.10.0: stream and consumer `metadata` (we label them with Herald's prefix and topic).
 *
 * Deliberately unused even when present, because PostgreSQL already covers them or a 2.9 server
 * must behave the same: `filter_subjects` (2.10; one filter per consumer is all we need), stream
 * `compression` (2.10), `first_seq` and `subject_transform` (2.10), priority groups and pinned
 * consumers (2.11), `pause_until` (2.11), per-message TTL (2.11), batch direct get (2.11), message
 * schedules `@at` (2.12; delayed jobs wait in the PostgreSQL outbox instead), atomic batch publish
 * (2.12), consumer reset (2.14), and the `Nats-Required-Api-Level` header (2.11, ADR-44).
 */

export interface ServerFeatures {
  version: string;
  /** Stream and consumer `metadata` (2.10.0). */
  metadata: boolean;
  /**
   * The server can be told to fsync before it acks (`sync_interval: always`, nats-server PR #4483,
   * 2.10) and has the fix for the stream-loss-on-kill bug Jepsen found in 2.10.20–2.10.22
   * (https://jepsen.io/analyses/nats-2.12.1). We cannot see the server's `sync_interval` from a client, so even then
   * PostgreSQL stays the record of truth; this only changes what the startup log warns about.
   */
  fsyncBeforeAckPossible: boolean;
}

export const minimumServerVersion = '2.9.0';

/** Parses "2.9.10", "v2.10.0-beta.1" and the like into [major, minor, patch]. */
export function parseVersion(version: string): [number, number, number] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new Error(`cannot read the nats-server version ${JSON.stringify(version)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function atLeast(version: string, floor: string): boolean {
  const a = parseVersion(version);
  const b = parseVersion(floor);
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  return true;
}

/** Throws when the server is older than the floor, naming what is missing. */
export function serverFeatures(version: string): ServerFeatures {
  if (!atLeast(version, minimumServerVersion)) {
    throw new Error(
      `nats-server ${version} is older than ${minimumServerVersion}, which Herald's JetStream queue needs ` +
        '(nats.js creates consumers with the 2.9 CONSUMER.CREATE API)',
    );
  }
  return {
    version,
    metadata: atLeast(version, '2.10.0'),
    fsyncBeforeAckPossible: atLeast(version, '2.10.23'),
  };
}
