/**
 * Fault rules: the way a test makes a simulator misbehave on purpose (docs/sandbox.md,
 * POST /_sandbox/faults). A rule matches a request when its target starts with `target_prefix` and a
 * random draw falls under `share`; the simulator then waits `latency_ms` and either drops the
 * connection or answers `status` with the provider's own error body for `reason`.
 *
 * Matching runs on every simulated request, so the common case (no rules) is one length check.
 */
import { randomUUID } from 'node:crypto';
import { channels, isChannel, type Channel } from './records.js';

/** A rule as stored and listed; `count` is how many more requests it will answer (null: unlimited). */
export interface FaultRule {
  id: string;
  channel: Channel;
  target_prefix: string | null;
  share: number;
  status: number | null;
  reason: string | null;
  retry_after_s: number | null;
  latency_ms: number;
  drop_connection: boolean;
  /**
   * Email only: accept the message, as a relay does, and keep the delivery status notification
   * (RFC 3464) reporting `status` on its record, for the sender to be given later.
   */
  dsn: boolean;
  count: number | null;
  /** How many requests it has answered so far. */
  matched: number;
}

/** A longer hold only ties up a stream: every client's request timeout is shorter than this. */
export const maxLatencyMs = 600_000;

export class InvalidFault extends Error {}

export interface Faults {
  /** Validates and stores a rule; throws InvalidFault naming the offending field. */
  add(input: unknown): FaultRule;
  /** The rule that answers this request, if any; counts it against the rule's `count`. */
  match(channel: Channel, target: string): FaultRule | undefined;
  list(): FaultRule[];
  clear(): void;
  remove(id: string): boolean;
}

const fields = ['channel', 'target_prefix', 'share', 'status', 'reason', 'retry_after_s', 'latency_ms', 'drop_connection', 'dsn', 'count'];

export function createFaults(random: () => number = Math.random): Faults {
  let rules: FaultRule[] = [];

  return {
    add(input) {
      const rule = parseFaultRule(input);
      rules.push(rule);
      return rule;
    },
    match(channel, target) {
      if (rules.length === 0) return undefined;
      for (const r of rules) {
        if (r.channel !== channel) continue;
        if (r.target_prefix !== null && !target.startsWith(r.target_prefix)) continue;
        // share 1.0 always matches (random() < 1), share 0 never does.
        if (!(random() < r.share)) continue;
        r.matched++;
        if (r.count !== null && --r.count === 0) rules = rules.filter((x) => x !== r);
        return r;
      }
      return undefined;
    },
    list: () => rules.map((r) => ({ ...r })),
    clear() {
      rules = [];
    },
    remove(id) {
      const before = rules.length;
      rules = rules.filter((r) => r.id !== id);
      return rules.length < before;
    },
  };
}

/** Checks a POST /_sandbox/faults body; every field but `channel` is optional and may be null. */
export function parseFaultRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidFault('the body must be a JSON object');
  }
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!fields.includes(k)) throw new InvalidFault(`unknown field "${k}"; a rule has ${fields.join(', ')}`);
  }
  if (o.channel === undefined || o.channel === null) throw new InvalidFault('channel is required');
  if (!isChannel(o.channel)) throw new InvalidFault(`channel must be one of ${channels.join(', ')}`);
  const present = (k: string) => o[k] !== undefined && o[k] !== null;
  const int = (k: string, min: number, max: number): number | null => {
    if (!present(k)) return null;
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidFault(`${k} must be an integer from ${min} to ${max}`);
    }
    return v;
  };

  let target_prefix: string | null = null;
  if (present('target_prefix')) {
    if (typeof o.target_prefix !== 'string') throw new InvalidFault('target_prefix must be a string');
    target_prefix = o.target_prefix;
  }
  let share = 1;
  if (present('share')) {
    if (typeof o.share !== 'number' || !Number.isFinite(o.share) || o.share < 0 || o.share > 1) {
      throw new InvalidFault('share must be a number from 0 to 1');
    }
    share = o.share;
  }
  // A fault answers an error: 4xx/5xx for the HTTP services, and SMTP's transient (4yz) and
  // permanent (5yz) failure codes fall in the same range.
  const status = int('status', 400, 599);
  let reason: string | null = null;
  if (present('reason')) {
    if (typeof o.reason !== 'string' || o.reason === '') throw new InvalidFault('reason must be a non-empty string');
    if (status === null) throw new InvalidFault('reason needs a status to answer with');
    reason = o.reason;
  }
  const retry_after_s = int('retry_after_s', 0, 86_400);
  if (retry_after_s !== null && status === null) {
    throw new InvalidFault('retry_after_s needs a status: Retry-After is a header of the answer');
  }
  const latency_ms = int('latency_ms', 0, maxLatencyMs) ?? 0;
  let drop_connection = false;
  if (present('drop_connection')) {
    if (typeof o.drop_connection !== 'boolean') throw new InvalidFault('drop_connection must be true or false');
    drop_connection = o.drop_connection;
  }
  if (drop_connection && status !== null) {
    throw new InvalidFault('drop_connection and status are exclusive: a dropped connection answers nothing');
  }
  let dsn = false;
  if (present('dsn')) {
    if (typeof o.dsn !== 'boolean') throw new InvalidFault('dsn must be true or false');
    dsn = o.dsn;
  }
  if (dsn && (o.channel !== 'email' || status === null)) {
    throw new InvalidFault('dsn is for channel email, with the status the notification reports');
  }
  const count = int('count', 1, Number.MAX_SAFE_INTEGER);
  return {
    id: randomUUID(), channel: o.channel, target_prefix, share, status, reason, retry_after_s, latency_ms,
    drop_connection, dsn, count, matched: 0,
  };
}
