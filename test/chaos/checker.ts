/**
 * The chaos checker: reads a history (history.ts) and what the provider simulator received
 * (sandbox-records.ts) and says whether Herald kept its promise, Jepsen's queue checks
 * (lost / duplicated / unexpected, https://jepsen.io/analyses/nats-2.12.1):
 *
 * - lost: a message answered 2xx whose token has no accepted (delivered) record at the simulator.
 * - duplicated: a (message, token) with more than one accepted record, except the one kind of second
 *   copy no sender can rule out (see `crashResends` below). A failure.
 * - re-sent after a worker crash: the same delivery sent again under the same apns-id because a
 *   worker died during its provider call. Reported, not a failure, only when a worker kill explains
 *   it (see below); any other second copy is a duplicate.
 * - unexpected: an accepted record for a token that no call of the history named.
 * - accepted without a 2xx seen: delivered although every call of its key failed or timed out. Not
 *   a failure (a timed-out call may have been stored, and Herald then must deliver it); the client
 *   retries until it sees the 2xx anyway, so in a completed run this is 0.
 * - conflicting answers: one Idempotency-Key answered with two message ids (two effects of one request).
 * - unacknowledged: keys the client never got a 2xx for: the run did not complete, so its other
 *   figures prove less than they claim; a failure too.
 *
 * And the figures the incident report asked for: the API error rate inside each fault window, the
 * longest accept→delivered delay, and the time to drain after each fault.
 *
 * Usable on its own: `node dist/test/chaos/checker.js HISTORY.jsonl RECORDS.jsonl` prints the
 * report and exits 1 when the run failed.
 */
import { pathToFileURL } from 'node:url';
import type { CallEvent, FaultEvent, HistoryEvent } from './history.js';
import { readHistory } from './history.js';
import type { SandboxRecord } from './sandbox-records.js';
import { readRecords } from './sandbox-records.js';

export interface CheckOptions {
  /** The simulator's status for an accepted request (APNs: 200). */
  acceptedStatus?: number;
  /** Header carrying the provider-side id of one delivery (APNs: apns-id, Herald's delivery id). */
  idHeader?: string;
  /** Examples listed per finding in the printed report. */
  examples?: number;
  /** Which faults kill a worker process (default: names starting "kill -9 worker"). */
  killsWorker?: (faultName: string) => boolean;
  /** How long after a worker kill its interrupted deliveries may be re-sent (default 120 s: the
   *  45 s claim, the job's redelivery after its own lease, and a margin). */
  resendWindowMs?: number;
}

export interface Window {
  name: string;
  start: number;
  end: number;
  calls: number;
  failed: number;
  /** failed / calls, 0 when there were no calls. */
  errorRate: number;
  /** What the failed calls got: an HTTP status or an error code, with counts. */
  causes: Record<string, number>;
}

export interface Drain {
  fault: string;
  /** When the fault ended (ms since the epoch). */
  end: number;
  /** Messages acknowledged before the end and delivered after it: the backlog the fault left. */
  backlog: number;
  /** From the fault's end until every message acknowledged before it was delivered; 0 when nothing
   *  was waiting, null when some of them never were (they are lost). */
  drainMs: number | null;
}

export interface Duplicate {
  key: string;
  token: string;
  copies: number;
  /** Distinct provider ids among the copies: 1 is a re-send of one delivery, more are several deliveries. */
  ids: string[];
  /** When each copy reached the provider (ms since the epoch), to set beside the faults. */
  at: number[];
}

export interface Report {
  messages: number;
  acknowledged: number;
  calls: number;
  failedCalls: number;
  /** Calls that ended without a 2xx whose outcome is unknown (timeouts, resets, 5xx). */
  indeterminateCalls: number;
  providerRecords: { accepted: number; refused: number };
  lost: { key: string; token: string; ackedAt: number }[];
  duplicates: Duplicate[];
  /** Duplicates whose copies carry one provider id (the same delivery sent again, unexplained). */
  resentSameId: number;
  /** Duplicates whose copies carry several provider ids (separate deliveries of one message). */
  duplicatedDistinctIds: number;
  /** Deliveries sent twice under one provider id because a worker was killed during the call. */
  crashResends: Duplicate[];
  unexpected: { token: string; copies: number }[];
  acceptedWithoutAck: { key: string; token: string }[];
  conflictingAnswers: { key: string; messageIds: string[] }[];
  unacknowledged: string[];
  windows: Window[];
  latency: { delivered: number; p50Ms: number; p99Ms: number; maxMs: number; maxKey: string | undefined; maxAckedAt: number | undefined };
  drains: Drain[];
  failures: string[];
  pass: boolean;
}

interface MessageState {
  key: string;
  tokens: Set<string>;
  calls: number;
  /** End of the first 2xx call: when the client knew it was accepted. */
  ackedAt: number | undefined;
  messageIds: Set<string>;
}

const isOk = (c: CallEvent) => c.result === 'ok';
/** The sandbox and the chaos driver stamp times in different processes of one machine. */
const clockSlackMs = 1_000;

export function check(history: HistoryEvent[], records: SandboxRecord[], o: CheckOptions = {}): Report {
  const acceptedStatus = o.acceptedStatus ?? 200;
  const idHeader = o.idHeader ?? 'apns-id';
  const calls = history.filter((e): e is CallEvent => e.kind === 'call');
  const faults = pairFaults(history.filter((e): e is FaultEvent => e.kind === 'fault'));

  const messages = new Map<string, MessageState>();
  const keyOfToken = new Map<string, string>();
  const failures: string[] = [];
  for (const c of calls) {
    let m = messages.get(c.key);
    if (!m) messages.set(c.key, (m = { key: c.key, tokens: new Set(), calls: 0, ackedAt: undefined, messageIds: new Set() }));
    m.calls++;
    for (const t of c.tokens) {
      m.tokens.add(t);
      const owner = keyOfToken.get(t);
      if (owner !== undefined && owner !== c.key) {
        failures.push(`token ${t} is named by keys ${owner} and ${c.key}: this checker needs one message per token`);
      }
      keyOfToken.set(t, c.key);
    }
    if (isOk(c)) {
      m.ackedAt = Math.min(m.ackedAt ?? Infinity, c.end);
      const id = (c.body as { message_id?: unknown } | undefined)?.message_id;
      if (typeof id === 'string') m.messageIds.add(id);
    }
  }

  const accepted = records.filter((r) => r.status === acceptedStatus);
  const byToken = new Map<string, SandboxRecord[]>();
  for (const r of accepted) {
    const list = byToken.get(r.target);
    if (list) list.push(r);
    else byToken.set(r.target, [r]);
  }
  const firstDelivery = (token: string): number | undefined => {
    const list = byToken.get(token);
    return list ? Math.min(...list.map((r) => Date.parse(r.received_at))) : undefined;
  };

  const lost: Report['lost'] = [];
  const duplicates: Duplicate[] = [];
  const crashResends: Duplicate[] = [];
  const killsWorker = o.killsWorker ?? ((name: string) => name.startsWith('kill -9 worker'));
  const resendWindowMs = o.resendWindowMs ?? 120_000;
  const workerKills = faults.filter((f) => killsWorker(f.name)).map((f) => f.start);
  const acceptedWithoutAck: Report['acceptedWithoutAck'] = [];
  for (const m of messages.values()) {
    for (const token of m.tokens) {
      const copies = byToken.get(token) ?? [];
      if (m.ackedAt !== undefined && copies.length === 0) lost.push({ key: m.key, token, ackedAt: m.ackedAt });
      if (m.ackedAt === undefined && copies.length > 0) acceptedWithoutAck.push({ key: m.key, token });
      if (copies.length < 2) continue;
      const d: Duplicate = {
        key: m.key, token, copies: copies.length, ids: [...new Set(copies.map((r) => r.headers[idHeader] ?? '?'))],
        at: copies.map((r) => Date.parse(r.received_at)).sort((a, b) => a - b),
      };
      // A worker killed during a provider call leaves a delivery whose outcome nobody knows: the
      // provider may have it or not. Herald records the attempt before the call (worker/deliver.ts)
      // and, on APNs, sends it again under the same apns-id and apns-collapse-id, so the device
      // replaces the first copy; the alternative, not sending, loses the message whenever the call
      // had not left. Without a provider that de-duplicates on a key, one of the two is unavoidable.
      // The checker accepts exactly
      // that case: two copies under one id, the first before a worker kill, the second within the
      // recovery window after it. Anything else (several ids, a third copy, a re-send with no
      // crash to explain it) is a duplicate and fails the run.
      const explained = d.copies === 2 && d.ids.length === 1 &&
        workerKills.some((k) => d.at[0]! <= k + clockSlackMs && d.at[1]! >= k && d.at[1]! <= k + resendWindowMs);
      (explained ? crashResends : duplicates).push(d);
    }
  }
  const unexpected = [...byToken.entries()]
    .filter(([token]) => !keyOfToken.has(token))
    .map(([token, list]) => ({ token, copies: list.length }));
  const conflictingAnswers = [...messages.values()]
    .filter((m) => m.messageIds.size > 1)
    .map((m) => ({ key: m.key, messageIds: [...m.messageIds] }));
  const unacknowledged = [...messages.values()].filter((m) => m.ackedAt === undefined).map((m) => m.key);

  const report: Report = {
    messages: messages.size,
    acknowledged: messages.size - unacknowledged.length,
    calls: calls.length,
    failedCalls: calls.filter((c) => !isOk(c)).length,
    indeterminateCalls: calls.filter((c) => c.result === 'info').length,
    providerRecords: { accepted: accepted.length, refused: records.length - accepted.length },
    lost,
    duplicates,
    resentSameId: duplicates.filter((d) => d.ids.length === 1).length,
    duplicatedDistinctIds: duplicates.filter((d) => d.ids.length > 1).length,
    crashResends,
    unexpected,
    acceptedWithoutAck,
    conflictingAnswers,
    unacknowledged,
    windows: errorWindows(calls, faults),
    latency: latencies(messages, firstDelivery),
    drains: faults.map((f) => drainAfter(f, messages, firstDelivery)),
    failures,
    pass: false,
  };
  if (lost.length) failures.push(`${lost.length} acknowledged messages were never delivered (lost)`);
  if (duplicates.length) failures.push(`${duplicates.length} messages were delivered more than once to one token (duplicated)`);
  if (unexpected.length) failures.push(`${unexpected.length} tokens received pushes no call asked for (unexpected)`);
  if (conflictingAnswers.length) failures.push(`${conflictingAnswers.length} Idempotency-Keys were answered with different message ids`);
  if (unacknowledged.length) failures.push(`${unacknowledged.length} messages never got a 2xx: the run did not complete`);
  report.pass = failures.length === 0;
  return report;
}

interface FaultSpan {
  name: string;
  start: number;
  end: number;
}

/** Start and end events → spans, in start order; a fault with no end (the run died) lasts to +∞. */
function pairFaults(events: FaultEvent[]): FaultSpan[] {
  const open = new Map<string, number>();
  const spans: FaultSpan[] = [];
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    if (e.phase === 'start') open.set(e.name, e.t);
    else {
      const start = open.get(e.name);
      if (start !== undefined) spans.push({ name: e.name, start, end: e.t });
      open.delete(e.name);
    }
  }
  for (const [name, start] of open) spans.push({ name, start, end: Infinity });
  return spans.sort((a, b) => a.start - b.start);
}

/** Error rates of the calls started in each fault, plus before, between-free, after and overall. */
function errorWindows(calls: CallEvent[], faults: FaultSpan[]): Window[] {
  const window = (name: string, start: number, end: number): Window => {
    const inside = calls.filter((c) => c.start >= start && c.start <= end);
    const failed = inside.filter((c) => !isOk(c));
    const causes: Record<string, number> = {};
    for (const c of failed) {
      const cause = c.status !== null ? `HTTP ${c.status}` : (c.error ?? 'no answer');
      causes[cause] = (causes[cause] ?? 0) + 1;
    }
    return { name, start, end, calls: inside.length, failed: failed.length, errorRate: inside.length ? failed.length / inside.length : 0, causes };
  };
  // A loop, not Math.min(...): a long run's calls would overflow the argument list.
  let first = Infinity;
  let last = -Infinity;
  for (const c of calls) {
    first = Math.min(first, c.start);
    last = Math.max(last, c.start);
  }
  const windows: Window[] = [];
  if (faults.length) windows.push(window('before any fault', first, faults[0]!.start - 1));
  for (const f of faults) windows.push(window(f.name, f.start, f.end));
  if (faults.length) {
    const lastEnd = Math.max(...faults.map((f) => f.end));
    if (Number.isFinite(lastEnd)) windows.push(window('after the last fault', lastEnd + 1, last));
  }
  windows.push(window('whole run', first, last));
  return windows;
}

function latencies(messages: Map<string, MessageState>, firstDelivery: (t: string) => number | undefined): Report['latency'] {
  const samples: { ms: number; key: string; ackedAt: number }[] = [];
  for (const m of messages.values()) {
    if (m.ackedAt === undefined) continue;
    for (const t of m.tokens) {
      const d = firstDelivery(t);
      // Negative when a call that timed out had been stored and delivered before a retry saw the 202.
      if (d !== undefined) samples.push({ ms: d - m.ackedAt, key: m.key, ackedAt: m.ackedAt });
    }
  }
  samples.sort((a, b) => a.ms - b.ms);
  const at = (q: number) => samples.length ? samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!.ms : 0;
  const max = samples[samples.length - 1];
  return { delivered: samples.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: max?.ms ?? 0, maxKey: max?.key, maxAckedAt: max?.ackedAt };
}

function drainAfter(f: FaultSpan, messages: Map<string, MessageState>, firstDelivery: (t: string) => number | undefined): Drain {
  let latest = -Infinity;
  let backlog = 0;
  let missing = false;
  for (const m of messages.values()) {
    if (m.ackedAt === undefined || m.ackedAt > f.end) continue;
    for (const t of m.tokens) {
      const d = firstDelivery(t);
      if (d === undefined) missing = true;
      else {
        latest = Math.max(latest, d);
        if (d > f.end) backlog++;
      }
    }
  }
  return { fault: f.name, end: f.end, backlog, drainMs: missing ? null : Math.max(0, latest - f.end) };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The report as text, for the console and report.txt. */
export function formatReport(r: Report, o: CheckOptions & { t0?: number } = {}): string {
  const n = o.examples ?? 5;
  const t0 = o.t0 ?? Math.min(...r.windows.map((w) => w.start));
  const rel = (t: number) => Number.isFinite(t) ? `+${seconds(t - t0)}` : 'never';
  const lines: string[] = [];
  const examples = <T>(list: T[], show: (x: T) => string) => {
    for (const x of list.slice(0, n)) lines.push(`      ${show(x)}`);
    if (list.length > n) lines.push(`      … and ${list.length - n} more`);
  };
  lines.push(`messages: ${r.messages} (acknowledged ${r.acknowledged}); calls: ${r.calls}, failed ${r.failedCalls} ` +
    `(of which indeterminate ${r.indeterminateCalls}), retried with the same key`);
  lines.push(`provider records: ${r.providerRecords.accepted} accepted, ${r.providerRecords.refused} refused`);
  lines.push('');
  lines.push(`  lost        = ${r.lost.length}   (acknowledged, never delivered)`);
  examples(r.lost, (x) => `${x.key} token ${x.token.slice(0, 16)}… acknowledged ${rel(x.ackedAt)}`);
  lines.push(`  duplicated  = ${r.duplicates.length}   (delivered more than once for one message and token; ` +
    `re-sent under one apns-id: ${r.resentSameId}, under several: ${r.duplicatedDistinctIds})`);
  examples(r.duplicates, (x) => `${x.key} token ${x.token.slice(0, 16)}… ${x.copies} copies at ${x.at.map(rel).join(', ')}, ids ${x.ids.join(', ')}`);
  lines.push(`  re-sent after a worker crash = ${r.crashResends.length}   (not a failure: one apns-id, the provider call cut off ` +
    'by a kill -9, sent again under the same apns-id and collapse id)');
  examples(r.crashResends, (x) => `${x.key} token ${x.token.slice(0, 16)}… at ${x.at.map(rel).join(', ')}`);
  lines.push(`  unexpected  = ${r.unexpected.length}   (delivered, never asked for)`);
  examples(r.unexpected, (x) => `token ${x.token.slice(0, 16)}… ${x.copies} copies`);
  lines.push(`  accepted without a 2xx seen = ${r.acceptedWithoutAck.length}   (not a failure: every call of the key failed, yet it was stored)`);
  lines.push(`  keys answered with two message ids = ${r.conflictingAnswers.length}`);
  examples(r.conflictingAnswers, (x) => `${x.key}: ${x.messageIds.join(', ')}`);
  lines.push(`  never acknowledged = ${r.unacknowledged.length}`);
  lines.push('');
  lines.push('API error rate by window (calls started in it):');
  for (const w of r.windows) {
    const causes = Object.entries(w.causes).sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ×${k}`).join(', ');
    lines.push(`  ${w.name.padEnd(44)} ${rel(w.start).padStart(8)} … ${rel(w.end).padStart(8)}  ` +
      `${String(w.failed).padStart(5)}/${String(w.calls).padEnd(6)} ${pct(w.errorRate).padStart(6)}${causes ? `  (${causes})` : ''}`);
  }
  lines.push('');
  const l = r.latency;
  lines.push(`accept→delivered (first 2xx → first accepted record), ${l.delivered} deliveries: ` +
    `p50 ${seconds(l.p50Ms)}, p99 ${seconds(l.p99Ms)}, longest ${seconds(l.maxMs)}` +
    (l.maxKey ? ` (${l.maxKey}, acknowledged ${rel(l.maxAckedAt!)})` : ''));
  lines.push('');
  lines.push('time to drain after each fault (from its end until every message acknowledged before the end was delivered):');
  for (const d of r.drains) {
    lines.push(`  ${d.fault.padEnd(44)} ended ${rel(d.end).padStart(8)}  backlog ${String(d.backlog).padStart(5)}  ` +
      `drained in ${d.drainMs === null ? 'NEVER (lost messages)' : seconds(d.drainMs)}`);
  }
  lines.push('');
  lines.push(r.pass ? 'PASS: nothing lost, nothing duplicated, nothing unexpected' : `FAIL:\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
  return lines.join('\n');
}

/** Offline use: `node dist/test/chaos/checker.js HISTORY.jsonl RECORDS.jsonl`. */
async function main(argv: string[]): Promise<void> {
  const [historyPath, recordsPath] = argv;
  if (!historyPath || !recordsPath) {
    process.stderr.write('usage: node dist/test/chaos/checker.js HISTORY.jsonl SANDBOX-RECORDS.jsonl\n');
    process.exit(2);
  }
  const history = await readHistory(historyPath);
  const report = check(history, await readRecords(recordsPath));
  const start = history.find((e) => e.kind === 'note');
  process.stdout.write(formatReport(report, { t0: start?.t }) + '\n');
  process.exit(report.pass ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
